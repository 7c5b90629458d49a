import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualAgent } from '../../../src/actors/virtual/virtual-agent.js';
import { asctime } from '../../../src/actors/virtual/virtual-maildir.js';
import { MainConfig } from '../../../src/config/main-config.js';
import { captureLog, CONTENT, contentReader, makeRequest } from '../smtp/smtp-test-kit.js';

function setup(): { dir: string; base: string; agent: VirtualAgent; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-virtual-'));
  const base = join(dir, 'mail');
  mkdirSync(base);
  writeFileSync(join(dir, 'vmailbox'), [
    'alice@example.com   example.com/alice/',
    'bob@example.com     example.com/bob.mbox',
    '@catchall.test      catchall.test/all/',
  ].join('\n') + '\n');
  const config = new MainConfig({
    myhostname: 'mx.test',
    virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`,
    virtual_mailbox_base: base,
    recipient_delimiter: '+',
  }, dir);
  const { log, lines } = captureLog();
  return { dir, base, agent: new VirtualAgent({ config, log, readContent: contentReader() }), lines };
}

test('delivers into Maildir new/ with Return-Path, X-Original-To and Delivered-To first, under Postfix\'s file name', async () => {
  const { base, agent, lines } = setup();
  const res = await agent.deliver(makeRequest({ transport: 'virtual', nexthop: 'example.com', to: ['Alice@example.com'] }));
  assert.deepEqual(res.outcomes, [{ index: 0, state: 'delivered', dsn: '2.0.0', reason: 'delivered to maildir', relay: 'virtual' }]);
  const newDir = join(base, 'example.com/alice/new');
  const files = readdirSync(newDir);
  assert.equal(files.length, 1);
  assert.deepEqual(readdirSync(join(base, 'example.com/alice/tmp')), [], 'nothing left in tmp/');
  const text = readFileSync(join(newDir, files[0]));
  // time.VdevIinodeMusec.host, with the file's own device and inode.
  const st = statSync(join(newDir, files[0]), { bigint: true });
  assert.equal(files[0], `${files[0].split('.')[0]}.V${st.dev.toString(16)}I${st.ino.toString(16)}M${/M(\d+)\./.exec(files[0])![1]}.${hostname()}`);
  assert.ok(Math.abs(Number(files[0].split('.')[0]) - Date.now() / 1000) < 60);
  assert.ok(Number(/M(\d+)\./.exec(files[0])![1]) < 1e6);
  const expected = Buffer.concat([
    Buffer.from('Return-Path: <a@example.org>\nX-Original-To: Alice@example.com\nDelivered-To: alice@example.com\n'),
    Buffer.from(CONTENT.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'),
  ]);
  assert.ok(text.equals(expected), text.toString());
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => /ABC123: to=<Alice@example\.com>, relay=virtual, delay=[\d.]+, delays=[\d./]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)$/.test(l)));
});

test('an unknown user bounces 5.1.1; a catch-all and an extension still find their mailbox', async () => {
  const { base, agent } = setup();
  const res = await agent.deliver(makeRequest({ transport: 'virtual', to: ['nobody@example.com', 'x@catchall.test', 'alice+tag@example.com'] }));
  assert.equal(res.outcomes[0].state, 'bounced');
  assert.equal(res.outcomes[0].dsn, '5.1.1');
  assert.equal(res.outcomes[0].reason, 'unknown user: "nobody@example.com"');
  assert.equal(res.outcomes[1].state, 'delivered');
  assert.equal(readdirSync(join(base, 'catchall.test/all/new')).length, 1);
  assert.equal(res.outcomes[2].state, 'delivered');
  assert.equal(readdirSync(join(base, 'example.com/alice/new')).length, 1);
});

test('appends to an mbox file with a From line and >From quoting', async () => {
  const { base, agent } = setup();
  const content = Buffer.from('Subject: x\r\n\r\nFrom here on\r\nbody\r\n');
  const a2 = new VirtualAgent({ ...(agent as unknown as { opts: ConstructorParameters<typeof VirtualAgent>[0] }).opts, readContent: contentReader(content) });
  const res = await a2.deliver(makeRequest({ transport: 'virtual', to: ['bob@example.com'] }));
  assert.equal(res.outcomes[0].reason, 'delivered to mailbox');
  const text = readFileSync(join(base, 'example.com/bob.mbox'), 'latin1');
  assert.match(text, /^From a@example\.org  \w{3} \w{3} [ 1-3]\d \d\d:\d\d:\d\d \d{4}\nReturn-Path: <a@example\.org>\nX-Original-To: bob@example\.com\nDelivered-To: bob@example\.com\nSubject: x\n\n>From here on\nbody\n\n$/);
});

test('a file system error defers 4.2.0 instead of failing the request', async () => {
  const { base, agent } = setup();
  // A plain file where the mailbox directory should be: mkdir fails even for root.
  writeFileSync(join(base, 'example.com'), 'not a directory');
  const res = await agent.deliver(makeRequest({ transport: 'virtual', to: ['alice@example.com'] }));
  assert.equal(res.outcomes[0].state, 'deferred');
  assert.equal(res.outcomes[0].dsn, '4.2.0');
  assert.match(res.outcomes[0].reason, /^maildir delivery failed: E(NOTDIR|EXIST)/);
});

test('a Maildir is made on first delivery and remade when a part of it went missing', async () => {
  const { base, agent } = setup();
  const req = () => makeRequest({ transport: 'virtual', to: ['alice@example.com'] });
  const box = join(base, 'example.com/alice');
  assert.equal((await agent.deliver(req())).outcomes[0].state, 'delivered');
  assert.deepEqual(readdirSync(box).sort(), ['cur', 'new', 'tmp']);
  assert.equal((await agent.deliver(req())).outcomes[0].state, 'delivered');
  rmSync(join(box, 'new'), { recursive: true });
  const res = await agent.deliver(req());
  assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
  assert.equal(readdirSync(join(box, 'new')).length, 1);
  assert.deepEqual(readdirSync(join(box, 'tmp')), [], 'nothing left in tmp/');
});

test('virtual_mailbox_limit: a Maildir message, or an mbox file grown, past the limit bounces 5.2.2; soft_bounce defers it', async () => {
  const { dir, base } = setup();
  const agentWith = (params: Record<string, string>) =>
    new VirtualAgent({
      config: new MainConfig({ myhostname: 'mx.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, virtual_mailbox_base: base, ...params }, dir),
      log: captureLog().log,
      readContent: contentReader(),
    });
  const small = agentWith({ virtual_mailbox_limit: '50' });
  const maildir = await small.deliver(makeRequest({ transport: 'virtual', to: ['alice@example.com'] }));
  assert.deepEqual([maildir.outcomes[0].state, maildir.outcomes[0].dsn, maildir.outcomes[0].reason], ['bounced', '5.2.2', 'maildir delivery failed: error writing message: File too large']);
  // An mbox that holds one message takes a second only while the file stays under the limit.
  const roomy = agentWith({ virtual_mailbox_limit: String(Math.floor(1.5 * CONTENT.length) + 60) });
  assert.equal((await roomy.deliver(makeRequest({ transport: 'virtual', to: ['bob@example.com'] }))).outcomes[0].state, 'delivered');
  assert.equal((await roomy.deliver(makeRequest({ transport: 'virtual', to: ['bob@example.com'] }))).outcomes[0].state, 'bounced');
  const soft = await agentWith({ virtual_mailbox_limit: '50', soft_bounce: 'yes' }).deliver(makeRequest({ transport: 'virtual', to: ['alice@example.com'] }));
  assert.deepEqual([soft.outcomes[0].state, soft.outcomes[0].dsn], ['deferred', '4.2.2']);
  // Postfix's default limit (51200000) takes the message.
  assert.equal((await agentWith({}).deliver(makeRequest({ transport: 'virtual', to: ['alice@example.com'] }))).outcomes[0].state, 'delivered');
  rmSync(dir, { recursive: true, force: true });
});

test('the mbox From_ date is asctime(3)\'s: local time, the day padded with a space', () => {
  assert.equal(asctime(new Date(2026, 11, 5, 1, 3, 8)), 'Sat Dec  5 01:03:08 2026');
  assert.equal(asctime(new Date(2026, 10, 28, 20, 31, 7)), 'Sat Nov 28 20:31:07 2026');
});

test('enable_original_recipient = no: no X-Original-To; with it, X-Original-To names the recipient as received, not the ORCPT', async () => {
  const { base, dir } = setup();
  const { log } = captureLog();
  const mk = (extra: Record<string, string>) => new VirtualAgent({
    config: new MainConfig({ myhostname: 'mx.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, virtual_mailbox_base: base, ...extra }, dir),
    log,
    readContent: contentReader(),
  });
  await mk({ enable_original_recipient: 'no' }).deliver(makeRequest({ transport: 'virtual', to: ['alice@example.com'] }));
  const req = makeRequest({ transport: 'virtual', to: ['x@catchall.test'] });
  req.recipients[0].orcpt = 'rfc822;someone@upstream.example';
  req.recipients[0].origRcpt = 'Alias@Old.Example';
  await mk({}).deliver(req);
  const one = readdirSync(join(base, 'example.com/alice/new'));
  assert.doesNotMatch(readFileSync(join(base, 'example.com/alice/new', one[0]), 'latin1'), /X-Original-To/);
  const two = readdirSync(join(base, 'catchall.test/all/new'));
  assert.match(readFileSync(join(base, 'catchall.test/all/new', two[0]), 'latin1'), /^Return-Path: <a@example\.org>\nX-Original-To: Alias@Old\.Example\nDelivered-To: x@catchall\.test\n/);
});

test('virtual_uid_maps and virtual_gid_maps: files and the directories made for them belong to the mapped owner; bad or missing entries defer 4.3.0', async () => {
  const { base, dir } = setup();
  writeFileSync(join(dir, 'uids'), 'alice@example.com 1234\n@catchall.test 50\n');
  const { log, lines } = captureLog();
  const agent = new VirtualAgent({
    config: new MainConfig({
      myhostname: 'mx.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, virtual_mailbox_base: base,
      virtual_uid_maps: `texthash:${join(dir, 'uids')}`, virtual_gid_maps: 'static:1235', recipient_delimiter: '+',
    }, dir),
    log,
    readContent: contentReader(),
  });
  const res = await agent.deliver(makeRequest({ transport: 'virtual', to: ['alice+x@example.com', 'bob@example.com', 'who@catchall.test'] }));
  assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
  const maildir = join(base, 'example.com/alice');
  for (const p of [join(base, 'example.com'), maildir, join(maildir, 'new'), join(maildir, 'tmp'), join(maildir, 'cur')]) {
    const st = statSync(p);
    assert.deepEqual([st.uid, st.gid], [1234, 1235], p);
  }
  const file = join(maildir, 'new', readdirSync(join(maildir, 'new'))[0]);
  assert.deepEqual([statSync(file).uid, statSync(file).gid], [1234, 1235]);
  assert.equal(statSync(base).uid, 0, 'virtual_mailbox_base itself is not given away');
  // bob has no uid: deferred; the catch-all's uid 50 is under virtual_minimum_uid (100): deferred.
  assert.deepEqual([res.outcomes[1].state, res.outcomes[1].dsn, res.outcomes[1].reason], ['deferred', '4.3.0', 'mail system configuration error']);
  assert.deepEqual([res.outcomes[2].state, res.outcomes[2].dsn], ['deferred', '4.3.0']);
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => l.includes('warning: recipient bob@example.com: uid not found in virtual_uid_maps')), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('warning: recipient who@catchall.test: bad uid 50 in virtual_uid_maps')));
  // An mbox file made for its owner; virtual_minimum_uid lowered lets uid 50 through.
  const mbox = new VirtualAgent({
    config: new MainConfig({
      myhostname: 'mx.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, virtual_mailbox_base: base,
      virtual_uid_maps: 'static:2000', virtual_gid_maps: 'static:2001',
    }, dir),
    log,
    readContent: contentReader(),
  });
  assert.equal((await mbox.deliver(makeRequest({ transport: 'virtual', to: ['bob@example.com'] }))).outcomes[0].state, 'delivered');
  const st = statSync(join(base, 'example.com/bob.mbox'));
  assert.deepEqual([st.uid, st.gid], [2000, 2001]);
  const low = new VirtualAgent({
    config: new MainConfig({
      myhostname: 'mx.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, virtual_mailbox_base: base,
      virtual_uid_maps: `texthash:${join(dir, 'uids')}`, virtual_gid_maps: 'static:1235', virtual_minimum_uid: '50',
    }, dir),
    log,
    readContent: contentReader(),
  });
  assert.equal((await low.deliver(makeRequest({ transport: 'virtual', to: ['who@catchall.test'] }))).outcomes[0].state, 'delivered');
});
