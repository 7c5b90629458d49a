import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { canMakeUsers, cleanup, localAgent, localRequest, makeUser, MESSAGE, NOT_ROOT, removeUsers, scratch, spool } from './local-users-kit.js';
import { mboxRecord } from '../../../src/actors/local/local-child.js';

after(() => removeUsers());

const LF = MESSAGE.toString('latin1').replace(/\r\n/g, '\n');

test('an mbox under mail_spool_directory, byte for byte: From line, Return-Path, X-Original-To, Delivered-To, >From quoting, blank line; owned by the user', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    const { agent, lines } = localAgent(dir, { mail_spool_directory: mail });
    const res = await agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.deepEqual(res.outcomes, [{ index: 0, state: 'delivered', dsn: '2.0.0', reason: 'delivered to mailbox', relay: 'local' }]);
    const mbox = join(mail, u.name);
    const text = readFileSync(mbox, 'latin1');
    const from = /^From cron@example\.org  (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\n/.exec(text);
    assert.ok(from, text);
    const expected =
      `${from[0]}Return-Path: <cron@example.org>\nX-Original-To: ${u.name}@host.test\nDelivered-To: ${u.name}@host.test\n` +
      'From: cron@example.org\nTo: root\nSubject: report\n\n>From the nightly job:\nall fine.\n>From quoted already\n\n';
    assert.equal(text, expected);
    const st = statSync(mbox);
    assert.deepEqual([st.uid, st.mode & 0o777], [u.uid, 0o600]);
    assert.ok(!existsSync(`${mbox}.lock`), 'the dotlock is gone');
    assert.ok(lines.some((l) => new RegExp(`LOC123: to=<${u.name}@host\\.test>, relay=local, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(delivered to mailbox\\)$`).test(l)), lines.join('\n'));
  } finally {
    cleanup(dir);
  }
});

test('mboxRecord quotes only lines that begin with "From " and ends the message with a blank line', () => {
  const out = mboxRecord('', Buffer.from('Subject: x\n\nFrom here\n>From there\nno newline'), new Date(2026, 0, 5, 3, 4, 5));
  assert.equal(out.toString(), 'From MAILER-DAEMON  Mon Jan  5 03:04:05 2026\nSubject: x\n\n>From here\n>From there\nno newline\n\n');
});

test('aliases: root reaches the admin through two levels, logged with orig_to; an unknown user bounces 5.1.1', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const admin = makeUser(dir);
    const mail = spool(dir);
    writeFileSync(join(dir, 'aliases'), `postmaster: root\nroot: sysadmins\nsysadmins:\n  ${admin.name}\n`);
    const { agent, lines } = localAgent(dir, { mail_spool_directory: mail, alias_maps: 'hash:aliases' });
    const res = await agent.deliver(localRequest(['postmaster@host.test', 'nosuchuser@host.test']));
    assert.deepEqual(res.outcomes.map((o) => [o.state, o.dsn, o.reason]), [
      ['delivered', '2.0.0', 'delivered to mailbox'],
      ['bounced', '5.1.1', 'unknown user: "nosuchuser"'],
    ]);
    const text = readFileSync(join(mail, admin.name), 'latin1');
    assert.match(text, new RegExp(`\nX-Original-To: postmaster@host\\.test\nDelivered-To: ${admin.name}@host\\.test\n`));
    assert.ok(lines.some((l) => new RegExp(`to=<${admin.name}@host\\.test>, orig_to=<postmaster@host\\.test>, relay=local, .*status=sent \\(delivered to mailbox\\)`).test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /to=<nosuchuser@host\.test>, relay=local, .*dsn=5\.1\.1, status=bounced \(unknown user: "nosuchuser"\)/.test(l)));
  } finally {
    cleanup(dir);
  }
});

test('alias loops and Delivered-To loops bounce 5.4.6 "mail forwarding loop"', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    writeFileSync(join(dir, 'aliases'), 'a: b\nb: a\n');
    const { agent } = localAgent(dir, { alias_maps: 'hash:aliases' });
    const res = await agent.deliver(localRequest(['a@host.test']));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn, res.outcomes[0].reason], ['bounced', '5.4.6', 'mail forwarding loop for a@host.test']);
    const looped = Buffer.from('Delivered-To: c@host.test\r\nSubject: x\r\n\r\nbody\r\n');
    const { agent: agent2 } = localAgent(dir, { alias_maps: 'hash:aliases' }, looped);
    const res2 = await agent2.deliver(localRequest(['C@host.test'], {}, looped));
    assert.deepEqual([res2.outcomes[0].state, res2.outcomes[0].reason], ['bounced', 'mail forwarding loop for C@host.test']);
  } finally {
    cleanup(dir);
  }
});

test('an alias list: remote addresses forwarded as one message with Delivered-To and the owner- sender, :include:, \\user keeps a copy', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    writeFileSync(join(dir, 'members'), '# list members\nremote1@example.net\nremote2@example.net, remote1@example.net\n');
    chmodSync(join(dir, 'members'), 0o644);
    writeFileSync(join(dir, 'aliases'), `list: :include:${join(dir, 'members')}, \\${u.name}\nowner-list: ${u.name}\n`);
    const { agent, lines, forwarded } = localAgent(dir, { mail_spool_directory: mail, alias_maps: 'hash:aliases' });
    const res = await agent.deliver(localRequest(['list@host.test']));
    assert.equal(res.outcomes[0].state, 'delivered');
    assert.equal(forwarded.length, 1);
    assert.equal(forwarded[0].sender, 'owner-list@host.test');
    assert.deepEqual(forwarded[0].recipients, ['remote1@example.net', 'remote2@example.net']);
    assert.ok(forwarded[0].content.startsWith('Delivered-To: list@host.test\r\nFrom: cron@example.org\r\n'), forwarded[0].content);
    assert.match(readFileSync(join(mail, u.name), 'latin1'), /^From owner-list@host\.test  .*\nReturn-Path: <owner-list@host\.test>\n/);
    assert.ok(lines.some((l) => /to=<remote2@example\.net>, orig_to=<list@host\.test>, relay=local, .*status=sent \(forwarded as FWD1\)/.test(l)), lines.join('\n'));
  } finally {
    cleanup(dir);
  }
});

test('alias commands run as default_privs (never root) with local(8)\'s environment; exit 75 defers, other failures bounce with the output', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const out = join(dir, 'out');
    mkdirSync(out);
    chmodSync(out, 0o1777);
    const nobodyUid = Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':')[2]);
    writeFileSync(join(dir, 'aliases'), [
      `cmd: "|id -u > ${out}/uid; env > ${out}/env; cat > ${out}/msg"`,
      'tempfail: "|echo busy now; exit 75"',
      'broken: "|echo no such list >&2; exit 1"',
      '',
    ].join('\n'));
    const { agent, lines } = localAgent(dir, { alias_maps: 'hash:aliases' });
    const res = await agent.deliver(localRequest(['cmd@host.test', 'tempfail@host.test', 'broken@host.test']));
    assert.deepEqual(res.outcomes.map((o) => [o.state, o.dsn, o.reason]), [
      ['delivered', '2.0.0', `delivered to command: id -u > ${out}/uid; env > ${out}/env; cat > ${out}/msg`],
      ['deferred', '4.3.0', 'temporary failure. Command output: busy now'],
      ['bounced', '5.3.0', 'Command died with status 1: "echo no such list >&2; exit 1". Command output: no such list'],
    ]);
    assert.equal(Number(readFileSync(join(out, 'uid'), 'utf8')), nobodyUid);
    assert.equal(statSync(join(out, 'msg')).uid, nobodyUid);
    const env = readFileSync(join(out, 'env'), 'utf8');
    for (const line of ['SENDER=cron@example.org', 'RECIPIENT=cmd@host.test', 'LOCAL=cmd', 'DOMAIN=host.test', 'ORIGINAL_RECIPIENT=cmd@host.test', 'USER=nobody', 'LOGNAME=nobody']) {
      assert.ok(env.split('\n').includes(line), `${line} in\n${env}`);
    }
    assert.match(readFileSync(join(out, 'msg'), 'latin1'), /^From cron@example\.org  .*\nReturn-Path: <cron@example\.org>\nX-Original-To: cmd@host\.test\nDelivered-To: cmd@host\.test\nFrom: cron@example\.org\n/);
    assert.ok(lines.some((l) => /to=<tempfail@host\.test>, relay=local, .*dsn=4\.3\.0, status=deferred \(temporary failure\. Command output: busy now\)/.test(l)));
    // allow_mail_to_commands without alias: refused as Postfix words it.
    const { agent: strict } = localAgent(dir, { alias_maps: 'hash:aliases', allow_mail_to_commands: 'forward' });
    const refused = await strict.deliver(localRequest(['cmd@host.test']));
    assert.deepEqual([refused.outcomes[0].state, refused.outcomes[0].dsn, refused.outcomes[0].reason], ['bounced', '5.7.1', 'mail to command is restricted']);
  } finally {
    cleanup(dir);
  }
});

test('command_time_limit kills a command that runs too long and bounces it', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    writeFileSync(join(dir, 'aliases'), 'slow: "|sleep 30"\n');
    const { agent } = localAgent(dir, { alias_maps: 'hash:aliases', command_time_limit: '1s' });
    const res = await agent.deliver(localRequest(['slow@host.test']));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].reason], ['bounced', 'Command time limit exceeded: "sleep 30"']);
  } finally {
    cleanup(dir);
  }
});

test('.forward: its owner\'s file is followed (\\user keeps a copy, a file as the user); a group-writable one is skipped', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    const fwd = join(u.home, '.forward');
    writeFileSync(fwd, `\\${u.name}, elsewhere@example.net, ${u.home}/saved\n`);
    chownSync(fwd, u.uid, u.gid);
    chmodSync(fwd, 0o644);
    const { agent, forwarded, lines } = localAgent(dir, { mail_spool_directory: mail });
    const res = await agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.equal(res.outcomes[0].state, 'delivered', JSON.stringify(res.outcomes));
    assert.deepEqual(forwarded.map((f) => f.recipients), [['elsewhere@example.net']]);
    assert.ok(existsSync(join(mail, u.name)), 'the copy in the mailbox');
    assert.equal(statSync(join(u.home, 'saved')).uid, u.uid);
    assert.ok(lines.some((l) => l.includes(`status=sent (delivered to file: ${u.home}/saved)`)));
    chmodSync(fwd, 0o664);
    const again = localAgent(dir, { mail_spool_directory: mail });
    await again.agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.equal(again.forwarded.length, 0, 'a group-writable .forward is not followed');
    assert.ok(again.lines.some((l) => l.includes(`${fwd}: file is group or world writable; skipped`)));
  } finally {
    cleanup(dir);
  }
});

test('home_mailbox = Maildir/ delivers into the user\'s Maildir as the user; mailbox_size_limit bounces 5.2.2', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const { agent } = localAgent(dir, { home_mailbox: 'Maildir/' });
    const res = await agent.deliver(localRequest([`${u.name}@host.test`]));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].reason], ['delivered', 'delivered to maildir']);
    const files = readdirSync(join(u.home, 'Maildir/new'));
    assert.equal(files.length, 1);
    assert.equal(statSync(join(u.home, 'Maildir/new', files[0])).uid, u.uid);
    assert.equal(readFileSync(join(u.home, 'Maildir/new', files[0]), 'latin1'), `Return-Path: <cron@example.org>\nX-Original-To: ${u.name}@host.test\nDelivered-To: ${u.name}@host.test\n${LF}`);
    const { agent: small } = localAgent(dir, { home_mailbox: 'Mailbox', mailbox_size_limit: '100' });
    const res2 = await small.deliver(localRequest([`${u.name}@host.test`]));
    assert.deepEqual([res2.outcomes[0].state, res2.outcomes[0].dsn], ['bounced', '5.2.2']);
    assert.match(res2.outcomes[0].reason, /File too large/);
  } finally {
    cleanup(dir);
  }
});

test('two concurrent deliveries to one mbox never interleave (dotlock)', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    const big = (c: string): Buffer => Buffer.from(`Subject: ${c}\r\n\r\n${(c.repeat(200) + '\r\n').repeat(2000)}`);
    const a = localAgent(dir, { mail_spool_directory: mail, deliver_lock_delay: '1s' }, big('a'));
    const b = localAgent(dir, { mail_spool_directory: mail, deliver_lock_delay: '1s' }, big('b'));
    const [ra, rb] = await Promise.all([
      a.agent.deliver(localRequest([`${u.name}@host.test`], {}, big('a'))),
      b.agent.deliver(localRequest([`${u.name}@host.test`], {}, big('b'))),
    ]);
    assert.deepEqual([ra.outcomes[0].state, rb.outcomes[0].state], ['delivered', 'delivered']);
    const messages = readFileSync(join(mail, u.name), 'latin1').split(/^From cron@example\.org  .*\n/m).filter(Boolean);
    assert.equal(messages.length, 2);
    for (const m of messages) {
      const letter = /Subject: (\w)/.exec(m)![1];
      const body = m.slice(m.indexOf('\n\n') + 2).trimEnd().split('\n');
      assert.equal(body.length, 2000);
      assert.ok(body.every((l) => l === letter.repeat(200)), 'one message\'s lines only');
    }
  } finally {
    cleanup(dir);
  }
});

test('luser_relay takes unknown users; recipient_delimiter finds user+ext; mailbox_command runs as the user', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const u = makeUser(dir);
    const mail = spool(dir);
    const { agent, forwarded } = localAgent(dir, { mail_spool_directory: mail, luser_relay: 'catchall+$user@example.net', recipient_delimiter: '+' });
    const res = await agent.deliver(localRequest(['ghost@host.test', `${u.name}+news@host.test`]));
    assert.deepEqual(res.outcomes.map((o) => o.state), ['delivered', 'delivered']);
    assert.deepEqual(forwarded.map((f) => f.recipients), [['catchall+ghost@example.net']]);
    assert.match(readFileSync(join(mail, u.name), 'latin1'), new RegExp(`Delivered-To: ${u.name}\\+news@host\\.test\n`));
    const { agent: procmail } = localAgent(dir, { mailbox_command: `sh -c 'id -u > $HOME/by; echo "$EXTENSION" >> $HOME/by'`, recipient_delimiter: '+' });
    const r2 = await procmail.deliver(localRequest([`${u.name}+x@host.test`]));
    assert.equal(r2.outcomes[0].state, 'delivered', JSON.stringify(r2.outcomes));
    assert.equal(readFileSync(join(u.home, 'by'), 'utf8'), `${u.uid}\nx\n`);
  } finally {
    cleanup(dir);
  }
});

test('mail for an unaliased root is not delivered as root: deferred with the reason', { skip: NOT_ROOT }, async () => {
  const dir = scratch();
  try {
    const { agent } = localAgent(dir, { mail_spool_directory: spool(dir) });
    const res = await agent.deliver(localRequest(['root@host.test']));
    assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn], ['deferred', '4.3.0']);
    assert.match(res.outcomes[0].reason, /not delivered as root/);
  } finally {
    cleanup(dir);
  }
});

test('canMakeUsers says whether this run can create users', () => {
  assert.equal(canMakeUsers, process.getuid?.() === 0);
});
