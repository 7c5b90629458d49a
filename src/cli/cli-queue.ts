/**
 * cli-queue: the queue administration commands (Postfix's mailq, postqueue,
 * postsuper and postcat), served by the running daemon over the control
 * socket: `queue [--json]`, `queue show ID [--headers|--body|--envelope]`,
 * `queue delete|hold|release|requeue ID...|ALL [queue...]|-` (`-` reads ids
 * from standard input, as postsuper does), `flush [site]`, `logrotate`, and
 * `fault ROLE INSTANCE KIND` for tests. With the daemon down, `queue` and
 * `queue show` read the journal read-only (admin/queue-offline); the
 * changing commands need the daemon, which owns the journal.
 *
 * The admin actions print what postsuper prints on standard error: a line
 * per message changed ("postsuper: ID: placed on hold") and, when any
 * changed, the summary ("postsuper: Placed on hold: 2 messages").
 */
import { ControlError, controlRequest } from './control-client.js';
import { perMessageLine, summaryLine } from '../admin/postsuper-text.js';
import type { AdminAction } from '../store/store-types.js';
import { queueDirAt } from './cli-config-dir.js';
import { CliError, UsageError } from './cli-error.js';

const ACTIONS = new Set(['delete', 'hold', 'release', 'requeue']);

async function readStdinIds(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\s+/).filter(Boolean);
}

/** `postrider queue ...`; resolves with the exit status. */
export async function queue(
  dir: string,
  args: string[],
  flags: { json?: boolean; headers?: boolean; body?: boolean; envelope?: boolean },
): Promise<number> {
  const qd = queueDirAt(dir);
  const write = (text: string): void => void process.stdout.write(text);
  const [sub, ...rest] = args;
  if (sub === undefined) {
    try {
      await controlRequest(qd, 'queue-list', flags.json ? ['--json'] : [], write, { timeoutMs: 600_000 });
    } catch (err) {
      if (!(err instanceof ControlError && err.code === 'ERR_NOT_RUNNING')) throw err;
      const { listQueueOffline } = await import('../admin/queue-offline.js');
      await listQueueOffline(qd, flags.json === true, write);
    }
    return 0;
  }
  if (sub === 'show') {
    const id = rest[0];
    if (!id || rest.length > 1) throw new UsageError('usage: postrider queue show QUEUEID [--headers|--body|--envelope]');
    const parts = (['headers', 'body', 'envelope'] as const).filter((p) => flags[p]);
    try {
      await controlRequest(qd, 'queue-show', [id, ...parts.map((p) => `--${p}`)], write);
    } catch (err) {
      if (!(err instanceof ControlError && err.code === 'ERR_NOT_RUNNING')) throw err;
      const { showQueuedOffline } = await import('../admin/queue-offline.js');
      try {
        write(await showQueuedOffline(qd, id, { headers: flags.headers || undefined, body: flags.body || undefined, envelope: flags.envelope || undefined }));
      } catch (e) {
        throw new CliError((e as Error).message);
      }
    }
    return 0;
  }
  if (ACTIONS.has(sub)) {
    let ids = rest;
    if (ids.length === 1 && ids[0] === '-') ids = await readStdinIds();
    if (ids.length === 0) throw new UsageError(`usage: postrider queue ${sub} QUEUEID...|ALL [queue...]|-`);
    const result = (await controlRequest(qd, 'queue-admin', [sub, ...ids], undefined, { timeoutMs: 600_000 })) as { affected: number; queueIds?: string[] };
    const action = sub as AdminAction;
    let text = '';
    for (const id of result.queueIds ?? []) text += `postsuper: ${perMessageLine(action, id)}\n`;
    const summary = summaryLine(action, result.affected);
    if (summary) text += `postsuper: ${summary}\n`;
    process.stderr.write(text);
    return 0;
  }
  throw new UsageError(`unknown queue command: ${sub}; usage: postrider queue [--json] | show ID | delete|hold|release|requeue ID...|ALL|-`);
}

/** `postrider flush [site]`. */
export async function flush(dir: string, args: string[]): Promise<number> {
  await controlRequest(queueDirAt(dir), 'flush', args.slice(0, 1));
  return 0;
}

/** `postrider logrotate`: maillog_file is reopened by every thread. */
export async function logrotate(dir: string): Promise<number> {
  await controlRequest(queueDirAt(dir), 'logrotate', []);
  return 0;
}

/** `postrider fault ROLE INSTANCE throw|exit|oom|hang` (debug_fault_injection = yes only). */
export async function fault(dir: string, args: string[]): Promise<number> {
  await controlRequest(queueDirAt(dir), 'fault', args);
  return 0;
}
