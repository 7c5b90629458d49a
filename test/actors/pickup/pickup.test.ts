import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, readFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureLogging, Logger } from '../../../src/util/log.js';
import { Pickup, type PickupSubmission } from '../../../src/actors/pickup/pickup.js';
import {
  decodeMaildropFile,
  encodeMaildropFile,
  ensureMaildrop,
  maildropName,
  MaildropFormatError,
  writeMaildropFile,
} from '../../../src/global/maildrop-file.js';

const logLines: string[] = [];
before(() => {
  configureLogging({
    myhostname: 'mx.example.test',
    sink: { write: (l) => void logLines.push(l), flush: () => undefined, reopen: () => undefined },
  });
});

async function queueDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pickup-'));
}

function file(sender: string, body: string, rcpts = ['bob@remote.test']): Buffer {
  return encodeMaildropFile(
    { sender, recipients: rcpts.map((address) => ({ address })), arrivalTime: 1_700_000_000_000, uid: 1000, flags: [], fullName: 'Al Ice' },
    Buffer.from(`Subject: ${body}\r\n\r\n${body}\r\n`),
  );
}

test('maildrop file round-trips and rejects garbage with a stable code', () => {
  const buf = file('alice@example.org', 'one');
  const { envelope, content } = decodeMaildropFile(buf);
  assert.equal(envelope.sender, 'alice@example.org');
  assert.equal(envelope.fullName, 'Al Ice');
  assert.deepEqual(envelope.recipients, [{ address: 'bob@remote.test' }]);
  assert.equal(content.toString(), 'Subject: one\r\n\r\none\r\n');
  for (const bad of ['', 'no newline', '{"format":"other"}\n', '[1]\n', '{"format":"postrider-maildrop/1","sender":"a","recipients":[],"arrivalTime":1,"uid":0}\n']) {
    assert.throws(() => decodeMaildropFile(Buffer.from(bad)), (e: unknown) => e instanceof MaildropFormatError && e.code === 'ERR_MAILDROP_FORMAT');
  }
  assert.ok(maildropName(1) < maildropName(2), 'names sort by time');
});

test('files are submitted in name order, then deleted; pickup logs uid and sender', async () => {
  const dir = await queueDir();
  try {
    const drop = await ensureMaildrop(dir);
    await writeMaildropFile(drop, file('c@example.org', 'third'), maildropName(3000));
    await writeMaildropFile(drop, file('a@example.org', 'first'), maildropName(1000));
    await writeMaildropFile(drop, file('b@example.org', 'second'), maildropName(2000));
    await writeFile(join(drop, '.tmp-000000000000500.1.aa'), 'half-written');
    const got: PickupSubmission[] = [];
    let n = 0;
    const pickup = new Pickup({
      queueDir: dir,
      log: new Logger('pickup', 1),
      submit: async (m) => {
        got.push(m);
        return { queueId: `QID${++n}` };
      },
    });
    assert.equal(await pickup.scanNow(), 3);
    assert.deepEqual(got.map((m) => m.sender), ['a@example.org', 'b@example.org', 'c@example.org']);
    assert.equal(Buffer.from(got[0].content).toString(), 'Subject: first\r\n\r\nfirst\r\n');
    assert.equal(got[0].uid, 1000);
    assert.equal(got[0].fullName, 'Al Ice');
    assert.deepEqual(await readdir(drop), ['.tmp-000000000000500.1.aa'], 'only the temporary file is left');
    assert.ok(logLines.some((l) => / postrider\/pickup\[1\]: QID1: uid=1000 from=<a@example\.org>$/.test(l)));
    await pickup.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failing submit leaves the file (and the ones after it) for the next scan', async () => {
  const dir = await queueDir();
  try {
    const drop = await ensureMaildrop(dir);
    const first = await writeMaildropFile(drop, file('a@example.org', 'first'), maildropName(1000));
    const second = await writeMaildropFile(drop, file('b@example.org', 'second'), maildropName(2000));
    let fail = true;
    const got: string[] = [];
    const pickup = new Pickup({
      queueDir: dir,
      log: new Logger('pickup', 2),
      submit: async (m) => {
        if (fail) throw new Error('cleanup unavailable');
        got.push(m.sender);
        return { queueId: 'Q' + got.length };
      },
    });
    assert.equal(await pickup.scanNow(), 0);
    assert.deepEqual((await readdir(drop)).sort(), [first, second].sort());
    assert.ok(logLines.some((l) => l.includes(`warning: ${first}: submit failed, will retry: cleanup unavailable`)));
    fail = false;
    assert.equal(await pickup.scanNow(), 2);
    assert.deepEqual(got, ['a@example.org', 'b@example.org']);
    assert.deepEqual(await readdir(drop), []);
    await pickup.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('corrupt and rejected files move to corrupt/ and the rest still goes through', async () => {
  const dir = await queueDir();
  try {
    const drop = await ensureMaildrop(dir);
    await writeMaildropFile(drop, Buffer.from('this is not a maildrop file\n'), '000000000000001.1.bad');
    await writeMaildropFile(drop, file('reject@example.org', 'nope'), maildropName(2000));
    const good = await writeMaildropFile(drop, file('ok@example.org', 'fine'), maildropName(3000));
    const got: string[] = [];
    const pickup = new Pickup({
      queueDir: dir,
      log: new Logger('pickup', 3),
      submit: async (m) => {
        if (m.sender.startsWith('reject')) return { rejected: '554 5.7.1 message content rejected' };
        got.push(m.sender);
        return { queueId: 'QOK' };
      },
    });
    assert.equal(await pickup.scanNow(), 1);
    assert.deepEqual(got, ['ok@example.org']);
    assert.deepEqual(await readdir(drop), []);
    const corrupt = (await readdir(join(dir, 'corrupt'))).sort();
    assert.equal(corrupt.length, 2);
    assert.ok(corrupt.includes('000000000000001.1.bad'));
    assert.ok(!corrupt.includes(good));
    assert.equal(await readFile(join(dir, 'corrupt', '000000000000001.1.bad'), 'utf8'), 'this is not a maildrop file\n');
    assert.ok(logLines.some((l) => /warning: 000000000000001\.1\.bad: envelope is not JSON: moved to corrupt queue/.test(l)));
    assert.ok(logLines.some((l) => /rejected: 554 5\.7\.1 message content rejected: moved to corrupt queue/.test(l)));
    await pickup.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('started pickup notices a new file on its own and stops cleanly', async () => {
  const dir = await queueDir();
  try {
    let resolveGot: (m: PickupSubmission) => void = () => undefined;
    const arrived = new Promise<PickupSubmission>((r) => (resolveGot = r));
    const pickup = new Pickup({
      queueDir: dir,
      log: new Logger('pickup', 4),
      intervalMs: 200,
      submit: async (m) => {
        resolveGot(m);
        return { queueId: 'QLIVE' };
      },
    });
    pickup.start();
    const drop = await ensureMaildrop(dir);
    await writeMaildropFile(drop, file('live@example.org', 'live'));
    const m = await arrived;
    assert.equal(m.sender, 'live@example.org');
    await pickup.stop();
    // After the submit resolved, the unlink follows within the same scan, which stop() awaited.
    assert.deepEqual(await readdir(drop), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stale temporary file is removed, a fresh one is left alone', async () => {
  const dir = await queueDir();
  try {
    const drop = await ensureMaildrop(dir);
    await writeFile(join(drop, '.tmp-old'), 'abandoned');
    await writeFile(join(drop, '.tmp-new'), 'being written');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(drop, '.tmp-old'), twoHoursAgo, twoHoursAgo);
    const pickup = new Pickup({ queueDir: dir, log: new Logger('pickup', 5), submit: async () => ({ queueId: 'Q' }) });
    assert.equal(await pickup.scanNow(), 0);
    assert.deepEqual(await readdir(drop), ['.tmp-new']);
    assert.ok(logLines.some((l) => l.endsWith('warning: .tmp-old: removed stale temporary file')));
    await pickup.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
