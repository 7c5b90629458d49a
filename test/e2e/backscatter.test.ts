/**
 * The shipped configuration is no backscatter source: with etc/main.cf's
 * settings, mail to an unknown user of a local domain (mydestination) is
 * refused at RCPT with Postfix's "User unknown in local recipient table"
 * (local_recipient_maps: the passwd database and the shipped aliases),
 * over a real socket against the daemon; nothing is queued.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMainCf } from '../../src/config/main-cf.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail } from '../helpers/send-mail.js';

const ETC = join(dirname(fileURLToPath(import.meta.url)), '../../../etc');
let daemon: RunningDaemon;

before(async () => {
  // The shipped main.cf, except where the test daemon keeps its queue and log.
  const shipped = parseMainCf(readFileSync(join(ETC, 'main.cf'), 'utf8'), join(ETC, 'main.cf')).raw;
  const { queue_directory: _q, maillog_file: _l, ...params } = shipped;
  // The shipped aliases, where the test's configuration directory has none.
  const aliases = `hash:${join(ETC, 'aliases')}`;
  daemon = await startDaemon({ params: { ...params, alias_maps: aliases, alias_database: aliases } });
});

after(async () => {
  await daemon?.stop();
});

async function rcptReply(to: string): Promise<string> {
  try {
    const r = await sendMail(daemon.port, { from: 'forged@victim.example', to: [to], raw: 'Subject: spam\r\n\r\nspam\r\n' });
    return r.response;
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  }
}

test('the shipped main.cf refuses unknown local users at RCPT with 550 5.1.1, and nothing is queued or bounced', async () => {
  for (const to of ['no-such-user@localhost', 'no.such.user@localhost.localdomain', 'postmistress@localhost']) {
    assert.equal(await rcptReply(to), `550 5.1.1 <${to}>: Recipient address rejected: User unknown in local recipient table`);
  }
  const log = daemon.log();
  assert.match(log, /NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <no-such-user@localhost>: Recipient address rejected: User unknown in local recipient table; from=<forged@victim\.example> to=<no-such-user@localhost>/);
  assert.ok(!/status=bounced/.test(log));
  const q = await daemon.cli(['queue', '--json']);
  assert.equal(q.stdout.trim(), '', 'the queue is empty');
});
