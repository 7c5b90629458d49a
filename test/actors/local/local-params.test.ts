import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, localAgent, localRequest, makeUser, NOT_ROOT, removeUsers, scratch, spool } from './local-users-kit.js';
import { TransportLimitTable } from '../../../src/actors/qmgr/qmgr-params.js';
import { MainConfig } from '../../../src/config/main-config.js';
import { captureLog } from '../smtp/smtp-test-kit.js';

after(() => removeUsers());

test('deliver_lock_attempts and deliver_lock_delay: a held dotlock defers; one older than stale_lock_time is removed and the delivery goes on', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    const lock = join(mail, `${u.name}.lock`);
    writeFileSync(lock, '');
    const { agent } = localAgent(dir, { mail_spool_directory: mail, deliver_lock_attempts: '2', deliver_lock_delay: '0s' });
    const res = await agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn], ['deferred', '4.2.0']);
    assert.match(res.outcomes[0].reason, /unable to lock for exclusive access: .*\.lock: File exists/);
    assert.ok(!existsSync(join(mail, u.name)), 'nothing written without the lock');
    const old = new Date(Date.now() - 120_000);
    // A lock left behind by a delivery that died: the user's own.
    chownSync(lock, u.uid, u.gid);
    utimesSync(lock, old, old);
    const { agent: patient } = localAgent(dir, { mail_spool_directory: mail, deliver_lock_attempts: '2', deliver_lock_delay: '0s', stale_lock_time: '60s' });
    const res2 = await patient.deliver(localRequest([`${u.name}@host.test`]));
    assert.equal(res2.outcomes[0].state, 'delivered');
    assert.ok(!existsSync(lock));
  } finally {
    cleanup(dir);
  }
});

test('strict_mailbox_ownership: an mbox the user does not own defers; no delivers into it', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    const mbox = join(mail, u.name);
    writeFileSync(mbox, '', { mode: 0o666 });
    chmodSync(mbox, 0o666);
    const { agent } = localAgent(dir, { mail_spool_directory: mail });
    const res = await agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn], ['deferred', '4.2.0']);
    assert.match(res.outcomes[0].reason, new RegExp(`file should be owned by uid ${u.uid}, not 0`));
    const { agent: lax } = localAgent(dir, { mail_spool_directory: mail, strict_mailbox_ownership: 'no' });
    assert.equal((await lax.deliver(localRequest([`${u.name}@host.test`]))).outcomes[0].state, 'delivered');
    assert.match(readFileSync(mbox, 'latin1'), /^From cron@example\.org /);
  } finally {
    cleanup(dir);
  }
});

test('require_home_directory = yes defers a user whose home is missing; no delivers', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    rmSync(u.home, { recursive: true });
    const { agent } = localAgent(dir, { mail_spool_directory: mail, require_home_directory: 'yes' });
    const res = await agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].reason], ['deferred', `user ${u.name}: home directory ${u.home} is not accessible`]);
    const { agent: lax } = localAgent(dir, { mail_spool_directory: mail });
    assert.equal((await lax.deliver(localRequest([`${u.name}@host.test`]))).outcomes[0].state, 'delivered');
  } finally {
    cleanup(dir);
  }
});

test('prepend_delivered_header and export_environment shape what a command gets', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const out = join(dir, 'out');
    mkdirSync(out);
    chmodSync(out, 0o1777);
    writeFileSync(join(dir, 'aliases'), `cmd: "|env > ${out}/env; cat > ${out}/msg"\n`);
    const { agent } = localAgent(dir, { alias_maps: 'hash:aliases', prepend_delivered_header: 'file, forward', export_environment: 'TZ=UTC MAILDOMAIN=host.test' });
    assert.equal((await agent.deliver(localRequest(['cmd@host.test']))).outcomes[0].state, 'delivered');
    assert.ok(!/^Delivered-To:/m.test(readFileSync(join(out, 'msg'), 'latin1')), 'no Delivered-To: for a command');
    const env = readFileSync(join(out, 'env'), 'utf8').split('\n');
    assert.ok(env.includes('TZ=UTC') && env.includes('MAILDOMAIN=host.test'), env.join('\n'));
    const { agent: dflt } = localAgent(dir, { alias_maps: 'hash:aliases' });
    await dflt.deliver(localRequest(['cmd@host.test']));
    assert.match(readFileSync(join(out, 'msg'), 'latin1'), /^Delivered-To: cmd@host\.test$/m);
    assert.ok(!readFileSync(join(out, 'env'), 'utf8').split('\n').includes('MAILDOMAIN=host.test'));
  } finally {
    cleanup(dir);
  }
});

test('expand_owner_alias uses the owner alias\'s value as the sender; owner_request_special = no leaves the sender', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    writeFileSync(join(dir, 'aliases'), 'list: a@example.net\nowner-list: boss@example.net\n');
    const expanded = localAgent(dir, { alias_maps: 'hash:aliases', expand_owner_alias: 'yes' });
    await expanded.agent.deliver(localRequest(['list@host.test']));
    assert.equal(expanded.forwarded[0].sender, 'boss@example.net');
    const plain = localAgent(dir, { alias_maps: 'hash:aliases' });
    await plain.agent.deliver(localRequest(['list@host.test']));
    assert.equal(plain.forwarded[0].sender, 'owner-list@host.test');
    const off = localAgent(dir, { alias_maps: 'hash:aliases', owner_request_special: 'no' });
    await off.agent.deliver(localRequest(['list@host.test']));
    assert.equal(off.forwarded[0].sender, 'cron@example.org');
  } finally {
    cleanup(dir);
  }
});

test('allow_mail_to_files: a file in an alias is refused without "alias"; as the alias file\'s owner when that is not root', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const target = join(u.home, 'archive');
    writeFileSync(join(dir, 'aliases'), `archive: ${target}\n`);
    const { agent } = localAgent(dir, { alias_maps: 'hash:aliases', allow_mail_to_files: 'forward' });
    const res = await agent.deliver(localRequest(['archive@host.test']));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn, res.outcomes[0].reason], ['bounced', '5.7.1', 'mail to file is restricted']);
    chownSync(join(dir, 'aliases'), u.uid, u.gid);
    const { agent: owned } = localAgent(dir, { alias_maps: 'hash:aliases' });
    const res2 = await owned.deliver(localRequest(['archive@host.test']));
    assert.deepEqual([res2.outcomes[0].state, res2.outcomes[0].reason], ['delivered', `delivered to file: ${target}`]);
    assert.match(readFileSync(target, 'latin1'), /^From cron@example\.org  .*\nReturn-Path: <cron@example\.org>\nX-Original-To: archive@host\.test\nDelivered-To: archive@host\.test\n/);
  } finally {
    cleanup(dir);
  }
});

test('local_destination_concurrency_limit and local_destination_recipient_limit default to Postfix\'s 2 and 1', () => {
  const { log } = captureLog();
  const limits = new TransportLimitTable(new MainConfig({ myhostname: 'h.test' }, process.cwd()), log);
  assert.deepEqual([limits.get('local').destinationConcurrency, limits.get('local').recipientLimit], [2, 1]);
  const set = new TransportLimitTable(new MainConfig({ myhostname: 'h.test', local_destination_concurrency_limit: '5', local_destination_recipient_limit: '10' }, process.cwd()), log);
  assert.deepEqual([set.get('local').destinationConcurrency, set.get('local').recipientLimit], [5, 10]);
});
