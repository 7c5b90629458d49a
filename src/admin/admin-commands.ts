/**
 * admin-commands: the queue administration commands of the control socket
 * (Postfix's showq, postqueue and postsuper, served by the daemon). Listings
 * are streamed a page at a time, so a queue of 100,000 messages is never
 * built in memory whole; every queue shard is listed and acted on as one
 * queue (queue-view). Changes go through qmgr, which records them in the
 * journal first, and are logged as postsuper logs them
 * (`postrider/postsuper[PID]: ID: placed on hold`, then `Placed on hold: N
 * messages`). logrotate is the supervisor's own command.
 */
import type { AdminAction, QueueName } from '../store/store-types.js';
import { ADMIN_QUEUE_NAMES } from '../store/store-queue-name.js';
import { Logger } from '../util/log.js';
import { perMessageLine, summaryLine } from './postsuper-text.js';
import type { ControlHandler } from '../supervisor/control-server.js';
import { findMessage, livePages, queueAdmin, queueCounts, queueFlush, type ShardedQueue } from './queue-view.js';
import { readContent } from '../store/queue-store.js';
import { formatPostcat } from './queue-format.js';
import { writeQueueListing } from './queue-listing.js';

/** The part of the supervisor these commands need. */
export interface AdminHost extends ShardedQueue {
  queueDir: string;
}

const PAGE = 2000;
/** Admin actions are logged under postsuper's name, as Postfix's postsuper logs them. */
const postsuperLog = new Logger('postsuper', process.pid);
const ADMIN_ACTIONS: Record<string, AdminAction> = { delete: 'delete', hold: 'hold', release: 'release', requeue: 'requeue' };
const QUEUE_ID = /^[0-9A-Za-z]{6,20}$/;


/** postsuper's -d/-h/-H/-r on every shard, logged as postsuper logs them (each message, then the count). */
export async function queueAdminLogged(
  q: ShardedQueue,
  action: AdminAction,
  ids: string[] | 'ALL',
  opts: Parameters<typeof queueAdmin>[3] = {},
): Promise<{ affected: number; queueIds: string[] }> {
  const result = await queueAdmin(q, action, ids, opts);
  for (const id of result.queueIds) postsuperLog.info(perMessageLine(action, id));
  const summary = summaryLine(action, result.affected);
  if (summary) postsuperLog.info(summary);
  return result;
}

export function adminCommands(host: AdminHost): Record<string, ControlHandler> {
  return {
    /** args: ["--json"]? — mailq or postqueue -j. */
    'queue-list': async (args, stream) => {
      const count = await writeQueueListing(livePages(host, PAGE), args.includes('--json'), (text) => stream.line(text));
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
    /** args: [action, ids... | "ALL" [queue...]]. */
    'queue-admin': async (args) => {
      const action = ADMIN_ACTIONS[args[0] ?? ''];
      if (!action) throw new Error(`unknown queue action: ${args[0] ?? '(none)'}; use delete, hold, release or requeue`);
      const rest = args.slice(1);
      if (rest.length === 0) throw new Error(`usage: queue ${action} QUEUEID... | ALL [queue...]`);
      let ids: string[] | 'ALL';
      let queues: QueueName[] | undefined;
      if (rest[0] === 'ALL') {
        // postsuper -d ALL deferred: the queue names after ALL limit it.
        const bad = rest.slice(1).find((q) => !ADMIN_QUEUE_NAMES.includes(q as QueueName));
        if (bad) throw new Error(`invalid queue name: ${bad}; use ${ADMIN_QUEUE_NAMES.join(', ')}`);
        ids = 'ALL';
        if (rest.length > 1) queues = rest.slice(1) as QueueName[];
      } else {
        const bad = rest.find((id) => !QUEUE_ID.test(id));
        if (bad) throw new Error(`invalid queue id: ${bad}`);
        ids = rest;
      }
      return queueAdminLogged(host, action, ids, { timeoutMs: 300_000, queues });
    },
    /** args: [site]? — postqueue -f, or -s site. */
    flush: async (args) => queueFlush(host, args[0]),
    counts: async () => queueCounts(host),
  };
}
