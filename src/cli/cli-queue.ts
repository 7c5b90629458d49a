/**
 * cli-queue: the queue administration commands (Postfix's mailq, postqueue,
 * postsuper and postcat), all served by the running daemon over the control
 * socket: `queue [--json]`, `queue show ID [--headers|--body|--envelope]`,
 * `queue delete|hold|release|requeue ID...|ALL|-` (`-` reads ids from
 * standard input, as postsuper does), `flush [site]`, `logrotate`, and
 * `fault ROLE INSTANCE KIND` for tests.
 */
import { controlRequest } from './control-client.js';
import { queueDirAt } from './cli-config-dir.js';
import { CliError } from './cli-error.js';

const ACTIONS = new Set(['delete', 'hold', 'release', 'requeue']);

async function readStdinIds(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\s+/).filter(Boolean);
}

/** `postrider queue ...`; resolves with the exit status. */
export async function queue(dir: string, args: string[], flags: { json?: boolean }): Promise<number> {
  const qd = queueDirAt(dir);
  const write = (text: string): void => void process.stdout.write(text);
  const [sub, ...rest] = args;
  if (sub === undefined) {
    await controlRequest(qd, 'queue-list', flags.json ? ['--json'] : [], write, { timeoutMs: 600_000 });
    return 0;
  }
  if (sub === 'show') {
    await controlRequest(qd, 'queue-show', rest, write);
    return 0;
  }
  if (ACTIONS.has(sub)) {
    let ids = rest;
    if (ids.length === 1 && ids[0] === '-') ids = await readStdinIds();
    if (ids.length === 0) throw new CliError(`usage: postrider queue ${sub} QUEUEID...|ALL|-`);
    const result = (await controlRequest(qd, 'queue-admin', [sub, ...ids], undefined, { timeoutMs: 600_000 })) as { affected: number };
    const verb = { delete: 'Deleted', hold: 'Placed on hold', release: 'Released from hold', requeue: 'Requeued' }[sub];
    process.stderr.write(`postrider/queue: ${verb}: ${result.affected} message${result.affected === 1 ? '' : 's'}\n`);
    return 0;
  }
  throw new CliError(`unknown queue command: ${sub}; usage: postrider queue [--json] | show ID | delete|hold|release|requeue ID...|ALL|-`);
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
