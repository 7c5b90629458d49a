/**
 * store-shards-crash-child: the daemon process the sharded crash test kills:
 * a supervisor running the real journal actor as queue shards (the queue
 * directory in argv[2], the shard count in argv[3]), loaded by closed-loop
 * submitters in the main thread that append through the supervisor's
 * channels to every shard in turn and record outcomes for some. On stdout:
 * "A <id> <size> <shard>" once an append is acknowledged, "O <id>" before
 * outcomes that finish a message are recorded, "D <id>" once they are, and
 * "READY" once appends are being acknowledged. Lines are written straight
 * to the descriptor before the next step, so none is announced late.
 */
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { roleSpec } from '../../src/supervisor/roles.js';
import { QueueIdGenerator } from '../../src/store/store-queue-id.js';
import { makeMessage } from './store-fixture.js';
import { sayLine } from '../helpers/kill-when-ready.js';

const dir = process.argv[2];
const shards = Number(process.argv[3] ?? 3);
const SUBMITTERS = 32;


const sup = new Supervisor({
  config: { dir, params: { queue_directory: dir, maillog_file: join(dir, '..', `maillog-${process.pid}`), queue_shard_count: String(shards) }, master: [], problems: [] },
  // No warm spare: one thread fewer to start in every round.
  registry: [{ ...roleSpec('journal')!, spare: false }],
  controlSocket: false,
});
await sup.start();

// The supervisor makes no queue ids itself: a salt from the top of the range, which the few journal threads never reach first.
const ids = new QueueIdGenerator(3843 - (process.pid % 100));
let n = 0;
let acked = 0;
let flowing: () => void;
const ready = new Promise<void>((resolve) => (flowing = resolve));

async function submitter(): Promise<void> {
  for (;;) {
    const k = n++;
    const instance = (k % shards) + 1;
    const id = ids.next();
    const size = 200 + ((k * 977) % 6000);
    await sup.callActor('journal', 'append', { message: makeMessage(id, size, 2) }, { instance, timeoutMs: 30_000 });
    sayLine(`A ${id} ${size} ${instance - 1}`);
    if (++acked === SUBMITTERS) flowing();
    if (k % 3 === 0) {
      sayLine(`O ${id}`);
      const r = await sup.callActor('journal', 'outcome', {
        queueId: id,
        outcomes: [
          { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
          { index: 1, state: 'bounced', reason: '550 no', dsn: '5.1.1' },
        ],
        noticed: [1],
      }, { instance, timeoutMs: 30_000 });
      if (r.finished) sayLine(`D ${id}`);
    }
  }
}

for (let i = 0; i < SUBMITTERS; i++) void submitter();
await ready;
sayLine('READY');
