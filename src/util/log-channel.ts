/**
 * log-channel: every thread's log lines, gathered in the main thread for
 * the HTTP API's event stream and throughput graph when there is no
 * maillog_file to follow (the log goes to standard output or to syslog,
 * where nothing can be read back). Worker threads publish on one
 * node:worker_threads BroadcastChannel, LOG_LINES_CHANNEL; the main
 * thread's own lines are tapped where they are made.
 *
 * shareLogLines(on) starts or stops this thread's publishing (a worker
 * calls it at start and at each reconfiguration; off opens no channel and
 * adds no work per line). Lines go as one message per event-loop turn, the
 * batch the sink writes. followLogLines(fn) is the reader: the lines of
 * every publishing thread and of the calling thread, a batch at a time.
 *
 * Errors: none thrown; a message that is not a string is ignored.
 */
import { BroadcastChannel, isMainThread } from 'node:worker_threads';
import { flushLog, tapLog } from './log.js';

/** The channel's name, one per process. */
export const LOG_LINES_CHANNEL = 'postrider:log-lines';

let publishing: { channel: BroadcastChannel; untap: () => void } | undefined;

/** Publishes this thread's lines (on) or stops (off). The main thread's lines are tapped by followLogLines, never published. */
export function shareLogLines(on: boolean): void {
  if (isMainThread) return;
  if (on && !publishing) {
    const channel = new BroadcastChannel(LOG_LINES_CHANNEL);
    // A channel that only sends must not keep the thread alive.
    channel.unref();
    const untap = tapLog((lines) => channel.postMessage(lines));
    publishing = { channel, untap };
  } else if (!on && publishing) {
    // What this turn logged still goes out.
    flushLog();
    publishing.untap();
    publishing.channel.close();
    publishing = undefined;
  }
}

/** Reads every publishing thread's lines and this thread's; returns the function that stops. */
export function followLogLines(fn: (lines: string) => void): () => void {
  const channel = new BroadcastChannel(LOG_LINES_CHANNEL);
  channel.unref();
  channel.onmessage = (ev: unknown) => {
    const data = (ev as { data?: unknown }).data;
    if (typeof data === 'string') fn(data);
  };
  const untap = tapLog(fn);
  return () => {
    untap();
    channel.close();
  };
}
