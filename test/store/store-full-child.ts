/**
 * store-full-child: run under a file-size limit (ulimit -f) by the disk-full
 * test. Appends 64 KiB messages until the store reports full, then appends
 * a few more (the store starts a fresh segment after EFBIG). Reports
 * "A <id> <size>" per acknowledged append and "E <code>" for the failure.
 */
import { QueueStore, QueueIdGenerator, StoreError } from '../../src/store/queue-store.js';
import { makeMessage } from './store-fixture.js';

process.on('SIGXFSZ', () => undefined);
const dir = process.argv[2];
const store = await QueueStore.open(dir, { segmentBytes: 4 * 1024 * 1024, compactIntervalMs: 0 });
const gen = new QueueIdGenerator(9);
const say = (line: string) => process.stdout.write(line + '\n');
let failed = false;
for (let i = 0; i < 200 && !failed; i++) {
  const m = makeMessage(gen.next(), 64 * 1024, 1);
  try {
    await store.append(m);
    say(`A ${m.queueId} ${m.content.length}`);
  } catch (err) {
    say(`E ${(err as StoreError).code} ${(err as StoreError).sysCode ?? ''}`);
    failed = true;
  }
}
for (let i = 0; i < 3; i++) {
  const m = makeMessage(gen.next(), 64 * 1024, 1);
  await store.append(m);
  say(`A ${m.queueId} ${m.content.length}`);
}
await store.close();
