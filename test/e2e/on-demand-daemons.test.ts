/**
 * pickup and anvil wait on demand, as Postfix's master starts them: the
 * daemon serves without their threads; mail dropped by sendmail (while the
 * daemon runs, or before it started) wakes pickup, which ends after max_idle
 * once the maildrop is empty; the first connection smtpd must count starts
 * anvil, which stays while it counts an open connection or a running rate
 * window (so a limit in force is never forgotten) and ends after max_idle
 * once it counts nothing.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, runCli, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

async function stateOf(role: string): Promise<string> {
  const r = await daemon.cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = (JSON.parse(r.stdout) as { actors: Array<{ role: string; state: string }> }).actors.filter((a) => a.role === role);
  assert.equal(rows.length, 1, `one ${role} slot`);
  return rows[0].state;
}

/** Opens a connection and resolves with it and its first line (the greeting or a refusal). */
function open(port: number): Promise<{ socket: Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve({ socket, line: text.slice(0, end) });
    });
    socket.on('error', reject);
  });
}

function delivered(to: string): boolean {
  return sink.messages.some((m) => m.rcptTo.includes(to));
}

before(async () => {
  sink = await startSmtpSink();
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      max_idle: '2s',
      smtpd_client_connection_count_limit: '1',
      anvil_rate_time_unit: '1s',
      // Loopback is in $mynetworks, which the limits exempt by default.
      smtpd_client_event_limit_exceptions: '',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('pickup and anvil wait on demand while nothing needs them', async () => {
  assert.equal(await stateOf('pickup'), 'on-demand');
  assert.equal(await stateOf('anvil'), 'on-demand');
});

test('mail from sendmail wakes pickup, which delivers it and ends after max_idle', async () => {
  const r = await runCli(daemon.configDir, ['sendmail', '-f', 'local@client.test', 'woken@remote.test'], 'Subject: wake pickup\n\nbody\n');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => delivered('woken@remote.test'), 20_000, 'the dropped message delivered');
  await waitFor(async () => (await stateOf('pickup')) === 'on-demand', 20_000, 'pickup ends once the maildrop is empty');
  const again = await runCli(daemon.configDir, ['sendmail', '-f', 'local@client.test', 'again@remote.test'], 'Subject: again\n\nbody\n');
  assert.equal(again.code, 0, again.stderr);
  await waitFor(() => delivered('again@remote.test'), 20_000, 'a second drop wakes it again');
});

test('anvil starts with the first counted connection, enforces the limit, and stays while a connection is open', async () => {
  const first = await open(daemon.port);
  assert.match(first.line, /^220 /);
  const second = await open(daemon.port);
  assert.match(second.line, /^421 4\.7\.0 .*too many connections from 127\.0\.0\.1/);
  second.socket.destroy();
  assert.equal(await stateOf('anvil'), 'running');
  // Longer than max_idle with the first connection open: the count must not be forgotten.
  await new Promise((r) => setTimeout(r, 4_000));
  assert.equal(await stateOf('anvil'), 'running', 'anvil stays while it counts an open connection');
  const third = await open(daemon.port);
  assert.match(third.line, /^421 /, 'the limit still holds');
  third.socket.destroy();
  first.socket.destroy();
  await waitFor(async () => (await stateOf('anvil')) === 'on-demand', 20_000, 'anvil ends once it counts nothing');
  const fourth = await open(daemon.port);
  assert.match(fourth.line, /^220 /, 'a new connection is served and starts anvil again');
  fourth.socket.destroy();
});

test('mail dropped while the daemon is down is taken in when it starts', async () => {
  await daemon.stop();
  const r = await runCli(daemon.configDir, ['sendmail', '-f', 'local@client.test', 'waiting@remote.test'], 'Subject: waiting\n\nbody\n');
  assert.equal(r.code, 0, r.stderr);
  await daemon.restart();
  await waitFor(() => delivered('waiting@remote.test'), 20_000, 'the message waiting in the maildrop delivered');
});
