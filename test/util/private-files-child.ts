/**
 * private-files-child: makes a whole queue tree under the umask in argv[3]
 * (octal) in the queue directory argv[2], as the daemon would: the store
 * (journal, a quarantined record in corrupt/), the pid file, the control
 * socket's directory and the maildrop with a file in it. Prints "DONE".
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueIdGenerator } from '../../src/store/queue-store.js';
import { segmentPath } from '../../src/store/store-segment.js';
import { claimPidFile } from '../../src/supervisor/daemon-liveness.js';
import { makePrivateDirSync } from '../../src/util/private-files.js';
import { ensureMaildrop, writeMaildropFile } from '../../src/global/maildrop-file.js';
import { makeMessage, openStore } from '../store/store-fixture.js';

const queueDir = process.argv[2];
process.umask(parseInt(process.argv[3], 8));

let store = await openStore(queueDir, { segmentBytes: 64 * 1024 });
const gen = new QueueIdGenerator(0);
const locations = [];
for (let i = 0; i < 3; i++) locations.push(await store.append(makeMessage(gen.next(), 500, 1)));
await store.close();
// A flipped content byte in the middle record: recovery quarantines it to corrupt/.
const fh = await open(segmentPath(queueDir, locations[1].segment), 'r+');
const b = Buffer.alloc(1);
await fh.read(b, 0, 1, locations[1].offset + 10);
b[0] ^= 0x10;
await fh.write(b, 0, 1, locations[1].offset + 10);
await fh.close();
store = await openStore(queueDir, { segmentBytes: 64 * 1024 });
if (store.recovery.corrupt !== 1) throw new Error(`expected one quarantined record, got ${store.recovery.corrupt}`);
await store.close();

await claimPidFile(queueDir);
makePrivateDirSync(join(queueDir, 'private'));
await writeMaildropFile(await ensureMaildrop(queueDir), Buffer.from('dropped'));
process.stdout.write('DONE\n');
