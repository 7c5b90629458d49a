/**
 * Local delivery end to end, as cron sends it: with the daemon running,
 * `sendmail root` (the CLI's sendmail) is picked up, resolved to the local
 * transport, expanded through the aliases (root -> the admin, a real user
 * the test makes) and appended to the admin's mbox, as the admin; smtpd
 * accepts the admin and refuses an unknown user at RCPT; a command that
 * exits 75 is deferred and delivered on a later attempt.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { cleanup, makeUser, NOT_ROOT, removeUsers, scratch, spool } from '../actors/local/local-users-kit.js';

let daemon: RunningDaemon | undefined;
let dir = '';
let mail = '';
let admin: { name: string; uid: number };
let flag = '';

before(async () => {
  if (NOT_ROOT) return;
  dir = scratch();
  admin = makeUser(dir);
  mail = spool(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  chmodSync(out, 0o1777);
  flag = join(out, 'second-try');
  // The first attempt finds no flag, leaves one and exits 75; the retry delivers.
  writeFileSync(join(dir, 'aliases'), [
    'postmaster: root',
    `root: ${admin.name}`,
    `flaky: "|if [ -e ${flag} ]; then cat > ${out}/flaky; else touch ${flag}; exit 75; fi"`,
    '',
  ].join('\n'));
  daemon = await startDaemon({
    params: {
      myhostname: 'box.test',
      mydestination: '$myhostname, localhost',
      alias_maps: `hash:${join(dir, 'aliases')}`,
      alias_database: `hash:${join(dir, 'aliases')}`,
      mail_spool_directory: mail,
      virtual_alias_maps: `inline:{ staff@box.test=${admin.name}@box.test }`,
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
      queue_run_delay: '1s',
    },
  });
});

after(async () => {
  await daemon?.stop();
  removeUsers();
  if (dir) cleanup(dir);
});

test("sendmail root with the daemon running ends in the admin's mailbox through the aliases", { skip: NOT_ROOT }, async () => {
  const d = daemon!;
  const sent = await d.cli(['sendmail', 'root'], 'Subject: cron output\n\nFrom the backup job: done.\n');
  assert.equal(sent.code, 0, sent.stderr);
  const mbox = join(mail, admin.name);
  await waitFor(() => existsSync(mbox) && readFileSync(mbox, 'latin1').includes('backup job'), 30_000);
  const text = readFileSync(mbox, 'latin1');
  assert.match(text, /^From root@box\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nReturn-Path: <root@box\.test>\nX-Original-To: root@box\.test\n/);
  assert.match(text, new RegExp(`\nDelivered-To: ${admin.name}@box\\.test\n`));
  assert.match(text, /\n>From the backup job: done\.\n\n$/);
  assert.equal(statSync(mbox).uid, admin.uid);
  await waitFor(() => new RegExp(`postrider/local\\[\\d+\\]: \\w+: to=<${admin.name}@box\\.test>, orig_to=<root@box\\.test>, relay=local, .*status=sent \\(delivered to mailbox\\)`).test(d.log()), 10_000);
});

test('X-Original-To and orig_to= name the address before virtual alias expansion', { skip: NOT_ROOT }, async () => {
  const d = daemon!;
  const sent = await d.cli(['sendmail', 'staff@box.test'], 'Subject: to the staff alias\n\nstaff alias body\n');
  assert.equal(sent.code, 0, sent.stderr);
  const mbox = join(mail, admin.name);
  await waitFor(() => existsSync(mbox) && readFileSync(mbox, 'latin1').includes('staff alias body'), 30_000);
  const text = readFileSync(mbox, 'latin1');
  const at = text.lastIndexOf('\nFrom root@box.test ');
  assert.match(text.slice(at + 1), new RegExp(`^From root@box\\.test  .*\nReturn-Path: <root@box\\.test>\nX-Original-To: staff@box\\.test\nDelivered-To: ${admin.name}@box\\.test\n`));
  await waitFor(() => new RegExp(`postrider/local\\[\\d+\\]: \\w+: to=<${admin.name}@box\\.test>, orig_to=<staff@box\\.test>, relay=local, .*status=sent \\(delivered to mailbox\\)`).test(d.log()), 10_000);
});

test('smtpd accepts a local user and an alias and refuses an unknown user with Postfix\'s reply', { skip: NOT_ROOT }, async () => {
  const d = daemon!;
  const ok = await sendMail(d.port, { from: 'a@example.org', to: [`${admin.name}@box.test`, 'postmaster@localhost'], raw: 'Subject: hi\r\n\r\nhi\r\n' });
  assert.match(ok.response, /^250 /);
  const refused = await sendMail(d.port, { from: 'a@example.org', to: ['ghost@box.test'], raw: 'Subject: hi\r\n\r\nhi\r\n' }).then(
    (r) => r.response,
    (err: { response?: string }) => String(err.response ?? err),
  );
  assert.equal(refused, '550 5.1.1 <ghost@box.test>: Recipient address rejected: User unknown in local recipient table');
});

test('a command that exits 75 is deferred and delivered when retried', { skip: NOT_ROOT }, async () => {
  const d = daemon!;
  const r = await sendMail(d.port, { from: 'a@example.org', to: ['flaky@box.test'], raw: 'Subject: retry me\r\n\r\nbody\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => /to=<flaky@box\.test>, relay=local, .*dsn=4\.3\.0, status=deferred \(temporary failure\)/.test(d.log()), 30_000);
  // The shell makes the file before cat fills it: read it once the agent logged the command's exit.
  await waitFor(() => /to=<flaky@box\.test>, relay=local, .*status=sent \(delivered to command: /.test(d.log()), 30_000);
  assert.match(readFileSync(join(dir, 'out', 'flaky'), 'latin1'), /Subject: retry me/);
});
