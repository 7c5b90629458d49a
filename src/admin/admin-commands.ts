/**
 * admin-commands: the queue administration commands of the control socket
 * (Postfix's showq, postqueue and postsuper, served by the daemon). Listings
 * are streamed a page at a time, so a queue of 100,000 messages is never
 * built in memory whole; every queue shard is listed and acted on as one
 * queue (queue-view). Changes go through qmgr, which records them in the
 * journal first. logrotate is the supervisor's own command.
 */
import type { AdminAction } from '../store/store-types.js';
import type { ControlHandler } from '../supervisor/control-server.js';
import { findMessage, livePages, queueAdmin, queueCounts, queueFlush, type ShardedQueue } from './queue-view.js';
import { readContent } from '../store/queue-store.js';
import { formatMailqEntry, formatPostcat, formatPostqueueJson, mailqFooter, mailqHeader, queueNameOf } from './queue-format.js';

/** The part of the supervisor these commands need. */
export interface AdminHost extends ShardedQueue {
  queueDir: string;
}

const PAGE = 2000;
const ADMIN_ACTIONS: Record<string, AdminAction> = { delete: 'delete', hold: 'hold', release: 'release', requeue: 'requeue' };
const QUEUE_ID = /^[0-9A-Za-z]{6,20}$/;


export function adminCommands(host: AdminHost): Record<string, ControlHandler> {
  return {
    /** args: ["--json"]? — mailq or postqueue -j. */
    'queue-list': async (args, stream) => {
      const json = args.includes('--json');
      const now = Date.now();
      let count = 0;
      let bytes = 0;
      if (!json) stream.line(mailqHeader());
      for await (const page of livePages(host, PAGE)) {
        for (const m of page) {
          count++;
          bytes += m.size;
          stream.line(json ? formatPostqueueJson(m, queueNameOf(m)) + '\n' : formatMailqEntry(m, now));
        }
      }
      if (!json) stream.line(mailqFooter(bytes, count));
      return { count };
    },
    /** args: [queueId, "--headers"|"--body"]. */
    'queue-show': async (args, stream) => {
      const id = args.find((a) => !a.startsWith('-'));
      if (!id) throw new Error('usage: queue show QUEUEID');
      const message = await findMessage(host, id);
      if (!message) throw new Error(`queue id ${id}: not found`);
      const content = await readContent(host.queueDir, message.location);
      const want = (flag: string): true | undefined => (args.includes(flag) ? true : undefined);
      stream.line(formatPostcat(message, content, { headers: want('--headers'), body: want('--body'), envelope: want('--envelope') }));
      return { queueId: id };
    },
    /** args: [action, ids... | "ALL"]. */
    'queue-admin': async (args) => {
      const action = ADMIN_ACTIONS[args[0] ?? ''];
      if (!action) throw new Error(`unknown queue action: ${args[0] ?? '(none)'}; use delete, hold, release or requeue`);
      const rest = args.slice(1);
      if (rest.length === 0) throw new Error(`usage: queue ${action} QUEUEID... | ALL`);
      let ids: string[] | 'ALL';
      if (rest.length === 1 && rest[0] === 'ALL') ids = 'ALL';
      else {
        const bad = rest.find((id) => !QUEUE_ID.test(id));
        if (bad) throw new Error(`invalid queue id: ${bad}`);
        ids = rest;
      }
      return queueAdmin(host, action, ids, { timeoutMs: 300_000 });
    },
    /** args: [site]? — postqueue -f, or -s site. */
    flush: async (args) => queueFlush(host, args[0]),
    counts: async () => queueCounts(host),
  };
}
