/**
 * store-crash-child: the process the crash test kills. It opens the store in
 * argv[2] and appends under concurrent load, recording some outcomes (a
 * notice's, synced, and a finished delivery's, lazy) and
 * compacting now and then; on stdout it reports "A <id> <size>" once an
 * append is acknowledged and "D <id>" once a message is acknowledged done
 * ("O <id>" before its outcomes are recorded), and "READY" once every
 * worker's first append is acknowledged: the kill then lands under load,
 * not before the first write (on a loaded host, READY at start once let
 * half the rounds be killed before any append was acknowledged).
 */
import { QueueIdGenerator } from '../../src/store/queue-store.js';
import { makeMessage, openStore } from './store-fixture.js';
import { sayLine } from '../helpers/kill-when-ready.js';

const dir = process.argv[2];
const salt = Number(process.argv[3] ?? 0);
const workers = 32;

const store = await openStore(dir, { segmentBytes: 256 * 1024 });
const gen = new QueueIdGenerator(salt);
let n = 0;
let acked = 0;


async function worker(): Promise<void> {
  for (;;) {
    const id = gen.next();
    const size = 200 + ((n++ * 977) % 6000);
    await store.append(makeMessage(id, size, 2));
    sayLine(`A ${id} ${size}`);
    if (++acked === workers) sayLine('READY');
    if (n % 3 === 0) {
      // Announced first: killed between the done record and the report, it may be gone or not.
      sayLine(`O ${id}`);
      const r = await store.recordOutcomes(id, [
        { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
        { index: 1, state: 'bounced', reason: '550 no', dsn: '5.1.1' },
      ], [1]);
      if (r.finished) sayLine(`D ${id}`);
    } else if (n % 6 === 4) {
      // Every recipient delivered: the end is a lazy record (no fdatasync of its own), which a kill must not lose either.
      sayLine(`O ${id}`);
      const r = await store.recordOutcomes(id, [
        { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
        { index: 1, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
      ]);
      if (r.finished) sayLine(`D ${id}`);
    }
  }
}

setInterval(() => {
  store.compact().catch(() => undefined);
}, 50);
await Promise.all(Array.from({ length: workers }, () => worker()));
