/**
 * Milters end to end: the real daemon with smtpd_milters and
 * non_smtpd_milters pointing at a milter built on libmilter (python3-milter,
 * test/fixtures/milter/test-milter.py), mail relayed to a sink. Every
 * modification and every reply of the protocol, at the stage Postfix
 * applies it; the failure cases (a milter that is down, one that stops
 * answering in the middle of the body) get milter_default_action and lose
 * nothing. The main listener offers STARTTLS and AUTH and refuses one
 * recipient, so the macros of every stage carry Postfix's values, a refused
 * recipient reaches the milter (it negotiates SMFIP_RCPT_REJ) and so do
 * unknown commands (SMFIC_UNKNOWN).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { pythonMilterMissing, startTestMilter, type TestMilter } from '../helpers/test-milter.js';
import { makeTestCert } from '../helpers/tls-cert.js';
import { makeSaslTable } from '../helpers/sasl-table.js';
import { Session } from '../helpers/smtp-line-session.js';

const skip = pythonMilterMissing();
let sink: SmtpSink;
let daemon: RunningDaemon;
let milter: TestMilter;
/** A listener whose milter is down (default action tempfail), one whose milter is down with default_action=accept, one with a 2 s content timeout. */
let downPort: number;
let acceptPort: number;
let slowPort: number;

before(async () => {
  if (skip) return;
  sink = await startSmtpSink();
  milter = await startTestMilter();
  const dead = `inet:127.0.0.1:${await freePort()}`;
  [downPort, acceptPort, slowPort] = [await freePort(), await freePort(), await freePort()];
  const cert = makeTestCert('mx.postrider.test');
  const sasl = await makeSaslTable('alice@client.test', 'secret words');
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      smtpd_milters: milter.socket,
      non_smtpd_milters: milter.socket,
      milter_macro_daemon_name: 'postrider-test-daemon',
      // Postfix's default list and the connect macros it does not send by default.
      milter_connect_macros: 'j {daemon_name} {daemon_addr} v _ {daemon_port} {client_addr} {client_name} {client_ptr} {client_port} {client_connections}',
      smtpd_tls_cert_file: cert.certFile,
      smtpd_tls_key_file: cert.keyFile,
      smtpd_tls_security_level: 'may',
      smtpd_sasl_auth_enable: 'yes',
      // AUTH in the plain session of the macro test.
      smtpd_tls_auth_only: 'no',
      smtpd_sasl_password_maps: `texthash:${sasl}`,
      smtpd_recipient_restrictions: 'check_recipient_access inline:{ refused@sink.test=REJECT }',
    },
    masterExtra: [
      `127.0.0.1:${downPort} inet n - n - 1 smtpd -o smtpd_milters=${dead}`,
      `127.0.0.1:${acceptPort} inet n - n - 1 smtpd -o smtpd_milters={${dead},connect_timeout=5s,default_action=accept}`,
      `127.0.0.1:${slowPort} inet n - n - 1 smtpd -o milter_content_timeout=2s`,
    ],
  });
});

after(async () => {
  await daemon?.stop();
  await milter?.stop();
  await sink?.close();
});

function message(action: string, extra = ''): string {
  return `From: sender@client.test\r\nTo: kept@sink.test\r\nSubject: original subject\r\nX-Remove: this goes\r\nX-Test-Action: ${action}\r\n${extra}\r\nThe original body.\r\n`;
}

/** The reply a refused send got ("550 5.7.1 Command rejected"). */
async function refusal(port: number, mail: Parameters<typeof sendMail>[1]): Promise<string> {
  try {
    const r = await sendMail(port, mail);
    return r.rejected.length > 0 ? `rejected ${r.rejected.join(',')}` : r.response;
  } catch (err) {
    return (err as { response?: string }).response ?? (err as Error).message;
  }
}

test('every end-of-message modification reaches the sink: headers added, inserted, changed and deleted, body replaced, recipients added (with NOTIFY) and deleted, sender changed', { skip }, async () => {
  const r = await sendMail(daemon.port, { from: 'sender@client.test', to: ['kept@sink.test', 'deleted@sink.test'], raw: message('edit') });
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as /);
  await waitFor(() => sink.messages.filter((m) => m.mailFrom === 'new-sender@milter.test').length >= 1, 20_000, 'the edited message');
  await waitFor(() => sink.messages.filter((m) => m.mailFrom === 'new-sender@milter.test').flatMap((m) => m.rcptTo).length >= 3, 20_000, 'every recipient');
  const got = sink.messages.filter((m) => m.mailFrom === 'new-sender@milter.test');
  const rcpts = got.flatMap((m) => m.rcptTo).sort();
  assert.deepEqual(rcpts, ['added-par@sink.test', 'added@sink.test', 'kept@sink.test'], 'deleted@ gone; both added recipients there');
  const par = got.find((m) => m.rcptTo.includes('added-par@sink.test'))!;
  assert.equal(par.rcptParams[par.rcptTo.indexOf('added-par@sink.test')].NOTIFY, 'NEVER', 'SMFIR_ADDRCPT_PAR carried NOTIFY=NEVER');
  const text = got[0].raw.toString('utf8');
  const [head, body] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  assert.match(lines[0], /^Received: from client\.test/, 'our Received: stays on top');
  const firstAfterReceived = lines.slice(1).find((l) => !/^[ \t]/.test(l));
  assert.equal(firstAfterReceived, 'X-Inserted: at the top', 'SMFIR_INSHEADER at index 0 goes above every visible header');
  assert.ok(head.includes('\r\nSubject: changed by the milter'), 'SMFIR_CHGHEADER changed Subject');
  assert.ok(!head.includes('original subject'));
  assert.ok(!head.includes('X-Remove'), 'SMFIR_CHGHEADER with an empty value deleted the header');
  assert.equal(lines[lines.length - 1], 'X-Added: added by the milter', 'SMFIR_ADDHEADER appends');
  assert.equal(body, 'The milter replaced this body.\r\n', 'SMFIR_REPLBODY');
  // What the milter saw: the protocol's steps with Postfix's macros, and no Received: of ours.
  const rec = milter.records();
  const mail = rec.filter((x) => x.stage === 'mail').at(-1)!;
  assert.equal(mail.macros['{i}'] ?? mail.macros.i, r.queueId, '{i} is the queue id');
  assert.equal(mail.macros['{mail_addr}'], 'sender@client.test');
  const rcpt = rec.filter((x) => x.stage === 'rcpt').at(-1)!;
  assert.equal(rcpt.macros['{rcpt_addr}'], 'deleted@sink.test');
  const conn = rec.filter((x) => x.stage === 'connect').at(-1)!;
  assert.equal(conn.macros.j, 'mx.postrider.test');
  assert.equal(conn.macros['{daemon_name}'], 'postrider-test-daemon');
  assert.equal(conn.macros._, 'localhost [127.0.0.1]');
  assert.equal(conn.args.addr, '127.0.0.1');
  assert.equal(rec.filter((x) => x.stage === 'helo').at(-1)!.args.name, 'client.test');
  const eoh = rec.filter((x) => x.stage === 'eoh').at(-1)!;
  const names = (eoh.args.headers as string[][]).map((h) => h[0]);
  // The headers as they would be queued (cleanup added the missing Message-Id and Date for this local client), without our Received:.
  assert.deepEqual(names, ['Message-Id', 'Date', 'From', 'To', 'Subject', 'X-Remove', 'X-Test-Action'], 'the milter sees the headers, not the Received: we prepend');
  assert.equal(rec.filter((x) => x.stage === 'eom').at(-1)!.args.body, 'The original body.\r\n');
});

test('milter replies at MAIL FROM and RCPT TO are those commands\' replies: reject, tempfail and a custom code, logged as milter-reject', { skip }, async () => {
  const atMail = await refusal(daemon.port, { from: 'reject-mail@client.test', to: ['kept@sink.test'], raw: message('accept') });
  assert.match(atMail, /^550 5\.7\.1 Command rejected/);
  const r = await sendMail(daemon.port, {
    from: 'sender@client.test',
    to: ['reject-rcpt@sink.test', 'tempfail-rcpt@sink.test', 'code-rcpt@sink.test', 'fine@sink.test'],
    raw: message('accept'),
  });
  assert.deepEqual(r.accepted, ['fine@sink.test']);
  assert.deepEqual(r.rejected.sort(), ['code-rcpt@sink.test', 'reject-rcpt@sink.test', 'tempfail-rcpt@sink.test']);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('fine@sink.test')), 20_000, 'the accepted recipient');
  await waitFor(() => daemon.log().includes('to=<code-rcpt@sink.test>'), 10_000, 'the log lines');
  const log = daemon.log();
  assert.match(log, /NOQUEUE: milter-reject: MAIL from localhost\[127\.0\.0\.1\]: 550 5\.7\.1 Command rejected; from=<reject-mail@client\.test>/);
  assert.match(log, /milter-reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.7\.1 Command rejected; from=<sender@client\.test> to=<reject-rcpt@sink\.test>/);
  assert.match(log, /milter-reject: RCPT from localhost\[127\.0\.0\.1\]: 451 4\.7\.1 Service unavailable - try again later; from=<sender@client\.test> to=<tempfail-rcpt@sink\.test>/);
  assert.match(log, /milter-reject: RCPT from localhost\[127\.0\.0\.1\]: 553 5\.1\.7 Custom no for this recipient; from=<sender@client\.test> to=<code-rcpt@sink\.test>/);
});

test('end-of-message replies: reject 550, tempfail 451, a custom 554, discard (250, never delivered), accept, quarantine (hold queue), progress', { skip }, async () => {
  const send = (action: string, to: string): Promise<string> => refusal(daemon.port, { from: 'sender@client.test', to: [to], raw: message(action) });
  assert.match(await send('reject', 'r1@sink.test'), /^550 5\.7\.1 Command rejected/);
  assert.match(await send('tempfail', 'r2@sink.test'), /^451 4\.7\.1 Service unavailable - try again later/);
  assert.match(await send('replycode', 'r3@sink.test'), /^554 5\.7\.0 Custom message refusal/);
  assert.match(await send('discard', 'r4@sink.test'), /^250 2\.0\.0 Ok: queued as /);
  assert.match(await send('accept', 'r5@sink.test'), /^250 2\.0\.0 Ok: queued as /);
  const held = await send('quarantine', 'r6@sink.test');
  assert.match(held, /^250 2\.0\.0 Ok: queued as /);
  assert.match(await send('progress', 'r7@sink.test'), /^250 2\.0\.0 Ok: queued as /);
  await waitFor(() => ['r5@sink.test', 'r7@sink.test'].every((a) => sink.messages.some((m) => m.rcptTo.includes(a))), 20_000, 'accepted mail');
  const heldId = /queued as (\w+)/.exec(held)![1];
  const q = await daemon.cli(['queue', '--json']);
  const entry = q.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { queue_id: string; queue_name: string }).find((m) => m.queue_id === heldId);
  assert.equal(entry?.queue_name, 'hold', 'SMFIR_QUARANTINE put the message on hold');
  for (const never of ['r1@sink.test', 'r2@sink.test', 'r3@sink.test', 'r4@sink.test', 'r6@sink.test']) {
    assert.ok(!sink.messages.some((m) => m.rcptTo.includes(never)), `${never} is not delivered`);
  }
  await waitFor(() => daemon.log().includes('milter-hold'), 10_000, 'the log lines');
  const log = daemon.log();
  assert.match(log, /milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.1 Command rejected; from=<sender@client\.test> to=<r1@sink\.test>/);
  assert.match(log, /milter-discard: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: milter triggers DISCARD action; from=<sender@client\.test> to=<r4@sink\.test>/);
  assert.match(log, new RegExp(`${heldId}: milter-hold: END-OF-MESSAGE from localhost\\[127\\.0\\.0\\.1\\]: held by the test milter`));
});

test('a milter that is down: tempfail by default (451 4.7.1 at MAIL FROM, nothing queued); with default_action=accept the mail goes through', { skip }, async () => {
  const down = await refusal(downPort, { from: 'sender@client.test', to: ['down@sink.test'], raw: message('accept') });
  assert.match(down, /^451 4\.7\.1 Service unavailable - try again later/);
  const ok = await sendMail(acceptPort, { from: 'sender@client.test', to: ['down-accept@sink.test'], raw: message('accept') });
  assert.match(ok.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('down-accept@sink.test')), 20_000, 'mail past a down milter with default_action=accept');
  assert.ok(!sink.messages.some((m) => m.rcptTo.includes('down@sink.test')));
  await waitFor(() => /warning: connect to Milter service inet:127\.0\.0\.1:\d+: connect ECONNREFUSED/.test(daemon.log()), 10_000, 'the warning');
});

test('a milter that stops answering in the middle of the body: milter_content_timeout, then the default action (451), and the message is not queued', { skip }, async () => {
  const reply = await refusal(slowPort, { from: 'sender@client.test', to: ['slow@sink.test'], raw: message('slow') });
  assert.match(reply, /^451 4\.7\.1 Service unavailable - try again later/);
  await waitFor(() => /warning: milter unix:\S+: can't read SMFIC_BODY reply packet header: Connection timed out/.test(daemon.log()), 10_000, 'the warning');
  assert.ok(!sink.messages.some((m) => m.rcptTo.includes('slow@sink.test')));
});

test('non_smtpd_milters inspect mail from sendmail: the milter sees localhost and edits the message on its way through pickup', { skip }, async () => {
  const r = await daemon.cli(['sendmail', '-f', 'local@client.test', 'kept@sink.test', 'deleted@sink.test'], 'Subject: from sendmail\nX-Origin: sendmail\nX-Remove: x\nX-Test-Action: edit\n\nlocal body\n');
  assert.equal(r.code, 0, r.stderr);
  const fromSendmail = (): typeof sink.messages => sink.messages.filter((m) => m.raw.toString().includes('X-Origin: sendmail'));
  await waitFor(() => fromSendmail().flatMap((m) => m.rcptTo).length >= 3, 30_000, 'the sendmail message, edited');
  const got = fromSendmail();
  assert.deepEqual(got.flatMap((m) => m.rcptTo).sort(), ['added-par@sink.test', 'added@sink.test', 'kept@sink.test']);
  assert.equal(got[0].mailFrom, 'new-sender@milter.test');
  const text = got[0].raw.toString();
  assert.ok(text.includes('Subject: changed by the milter') && text.endsWith('\r\n\r\nThe milter replaced this body.\r\n'));
  const rec = milter.records();
  const conn = rec.filter((x) => x.stage === 'connect').map((x) => x.args.hostname);
  assert.ok(conn.includes('localhost'), 'the emulated CONNECT names localhost');
  const local = rec.filter((x) => x.stage === 'mail').find((x) => x.args.sender === '<local@client.test>');
  assert.ok(local, 'the emulated MAIL FROM carries the sendmail sender');
  assert.match(daemon.log(), /postrider\/pickup\[\d+\]/);
});

test('macros carry Postfix\'s values at each stage; a refused recipient reaches the milter (SMFIP_RCPT_REJ) with {rcpt_mailer}=error; unknown commands reach it (SMFIC_UNKNOWN) and its reply is theirs', { skip }, async () => {
  const relay = `[127.0.0.1]:${sink.port}`;
  const c = await Session.open(daemon.port);
  try {
    assert.equal(await c.command('XSECRET open sesame'), '550 5.7.1 No secrets here', 'the milter\'s reply to an unknown command');
    assert.equal(await c.command('XOTHER'), '500 5.5.2 Error: command not recognized', 'no reply from the milter: Postfix\'s own');
    assert.match(await c.command(`AUTH PLAIN ${Buffer.from('\0alice@client.test\0secret words').toString('base64')}`), /^235 /);
    assert.match(await c.command('MAIL FROM:<macro-sender@client.test> AUTH=author@client.test'), /^250 /);
    assert.match(await c.command('RCPT TO:<refused@sink.test>'), /^554 5\.7\.1 <refused@sink\.test>: Recipient address rejected: Access denied/);
    assert.match(await c.command('RCPT TO:<macro-rcpt@sink.test>'), /^250 /);
    assert.match(await c.command('RSET'), /^250 /);
  } finally {
    c.close();
  }
  await waitFor(() => milter.records().some((x) => x.stage === 'rcpt' && x.args.rcpt === '<macro-rcpt@sink.test>'), 10_000, 'the milter\'s records');
  const rec = milter.records();
  const unknown = rec.filter((x) => x.stage === 'unknown').map((x) => x.args.cmd);
  assert.deepEqual(unknown.slice(-2), ['XSECRET', 'XOTHER'], 'the command word, as Postfix sends it');
  assert.match(daemon.log(), /milter-reject: UNKNOWN from localhost\[127\.0\.0\.1\]: 550 5\.7\.1 No secrets here;/);
  const mail = rec.find((x) => x.stage === 'mail' && x.args.sender === '<macro-sender@client.test>')!;
  assert.match(mail.macros.i, /^[0-9A-Za-z]+$/);
  assert.equal(mail.macros['{auth_type}'], 'PLAIN');
  assert.equal(mail.macros['{auth_authen}'], 'alice@client.test');
  assert.equal(mail.macros['{auth_author}'], 'author@client.test', 'the AUTH= of MAIL FROM');
  assert.equal(mail.macros['{mail_addr}'], 'macro-sender@client.test');
  assert.equal(mail.macros['{mail_mailer}'], 'smtp', 'the transport the sender resolves to');
  assert.equal(mail.macros['{mail_host}'], relay, 'its next hop (relayhost)');
  const refused = rec.find((x) => x.stage === 'rcpt' && x.args.rcpt === '<refused@sink.test>')!;
  assert.ok(refused, 'the refused recipient reached the milter');
  assert.equal(refused.macros['{rcpt_mailer}'], 'error');
  assert.equal(refused.macros['{rcpt_host}'], '5.7.1', 'the enhanced status code');
  assert.equal(refused.macros['{rcpt_addr}'], 'Recipient address rejected: Access denied', 'the reply text after the address');
  const rcpt = rec.find((x) => x.stage === 'rcpt' && x.args.rcpt === '<macro-rcpt@sink.test>')!;
  assert.equal(rcpt.macros['{rcpt_addr}'], 'macro-rcpt@sink.test');
  assert.equal(rcpt.macros['{rcpt_mailer}'], 'smtp');
  assert.equal(rcpt.macros['{rcpt_host}'], relay);
  const conn = rec.filter((x) => x.stage === 'connect').at(-1)!;
  assert.equal(conn.macros['{daemon_addr}'], '127.0.0.1');
  assert.equal(conn.macros['{daemon_port}'], String(daemon.port));
  assert.equal(conn.macros['{client_addr}'], '127.0.0.1');
  assert.equal(conn.macros['{client_name}'], 'localhost');
  assert.equal(conn.macros['{client_ptr}'], 'localhost');
  assert.match(conn.macros['{client_port}'], /^\d+$/);
  assert.equal(conn.macros['{client_connections}'], '0', 'a client of smtpd_client_event_limit_exceptions ($mynetworks) is not counted: 0, as Postfix');
  assert.match(conn.macros.v, /^Postrider \d/, 'milter_macro_v: $mail_name $mail_version');

  // Over TLS, the HELO macros: protocol, cipher and its key size; no client certificate, so no {cert_subject} or {cert_issuer}.
  const r = await sendMail(daemon.port, { from: 'tls-sender@client.test', to: ['tls@sink.test'], raw: message('accept') }, { tls: { rejectUnauthorized: false } });
  assert.match(r.response, /^250 /);
  const tls = milter.records().find((x) => x.stage === 'mail' && x.args.sender === '<tls-sender@client.test>')!;
  assert.match(tls.macros['{tls_version}'], /^TLSv1\.[23]$/);
  assert.match(tls.macros['{cipher}'], /^(TLS_|ECDHE-)/);
  assert.match(tls.macros['{cipher_bits}'], /^(128|256)$/);
  assert.equal(tls.macros['{cert_subject}'], undefined);
  assert.equal(tls.macros['{cert_issuer}'], undefined);
  const plain = milter.records().find((x) => x.stage === 'mail' && x.args.sender === '<macro-sender@client.test>')!;
  assert.equal(plain.macros['{tls_version}'], undefined, 'no TLS macros without TLS');
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('tls@sink.test')), 20_000, 'the TLS message');
});
