/**
 * The HTTP API's event stream and throughput without maillog_file: a real
 * daemon logging to standard output (start-fg), and one logging to syslog
 * (a unix datagram socket the test binds), each with the API on. A message
 * sent over SMTP or injected shows in the Server-Sent Events stream as
 * received and delivered and is counted by /api/v1/throughput; the lines
 * still go where the log goes. A reload turns the API off and on again
 * and the stream still carries every thread's lines; a reload that sets
 * maillog_file switches the stream to the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { startSyslogReceiver, syslogReceiverSkip } from '../helpers/syslog-receiver.js';
import { openEvents, receivedAndDelivered } from '../helpers/api-events.js';


async function getJson(port: number, path: string, method = 'GET', body?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function throughputSums(port: number): Promise<Record<'received' | 'delivered' | 'deferred' | 'bounced', number>> {
  const r = await getJson(port, '/api/v1/throughput');
  assert.equal(r.status, 200);
  const t = r.body as Record<string, number[]>;
  const sum = (k: string): number => t[k].reduce((a, b) => a + b, 0);
  return { received: sum('received'), delivered: sum('delivered'), deferred: sum('deferred'), bounced: sum('bounced') };
}


function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', () => resolve(true));
    req.end();
  });
}

test('log on standard output: mail sent over SMTP shows in the event stream and the throughput; a reload turns the API off and on, then sets maillog_file', async () => {
  const sink = await startSmtpSink();
  const apiPort = await freePort();
  const daemon = await startDaemon({
    params: { maillog_file: '', relayhost: `[127.0.0.1]:${sink.port}`, http_api_listen: `127.0.0.1:${apiPort}` },
    readyTimeoutMs: 90_000,
  });
  let stdout = '';
  daemon.child.stdout!.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  try {
    const stream = await openEvents(apiPort);
    const sent = await sendMail(daemon.port, { from: 'a@client.test', to: ['r@remote.test'], raw: 'Subject: over stdout\r\n\r\nbody\r\n' });
    const id = sent.queueId!;
    assert.ok(id, sent.response);
    await waitFor(() => receivedAndDelivered(stream, id), 30_000, 'received and delivered events');
    const delivered = stream.events.find((e) => e.type === 'delivered' && e.queueId === id)!;
    assert.match(delivered.program, /^postrider\/smtp$/);
    assert.match(delivered.line, new RegExp(`postrider/smtp\\[\\d+\\]: ${id}: to=<r@remote\\.test>, relay=.*status=sent`));
    assert.deepEqual(await throughputSums(apiPort), { received: 1, delivered: 1, deferred: 0, bounced: 0 });
    // The log still goes to standard output, and no log file is made.
    await waitFor(() => stdout.includes(`${id}: removed`), 10_000, 'the lines on standard output');
    assert.ok(!existsSync(daemon.logFile), 'no maillog_file');
    stream.close();

    // Reload with the API off: the listener closes (and the threads stop publishing).
    const mainCf = join(daemon.configDir, 'main.cf');
    const withApi = readFileSync(mainCf, 'utf8');
    /** Writes main.cf, reloads, and waits until the API is closed (open false) or open. */
    const reloadWith = async (text: string, open: boolean, what: string): Promise<void> => {
      writeFileSync(mainCf, text);
      const r = await daemon.cli(['reload']);
      assert.equal(r.code, 0, r.stderr);
      await waitFor(async () => (await refused(apiPort)) !== open, 10_000, what);
    };
    await reloadWith(withApi.replace(/^http_api_listen = .*$/m, 'http_api_listen ='), false, 'the API closed');

    // And on again: the threads the reload kept publish again.
    await reloadWith(withApi, true, 'the API open again');
    const again = await openEvents(apiPort);
    const second = await sendMail(daemon.port, { from: 'a@client.test', to: ['s@remote.test'], raw: 'Subject: after reload\r\n\r\nbody\r\n' });
    await waitFor(() => receivedAndDelivered(again, second.queueId!), 30_000, 'events after the reloads');
    const counted = await throughputSums(apiPort);
    assert.equal(counted.received, 1, 'the new listener counts from its start');
    assert.equal(counted.delivered, 1);
    again.close();

    // A reload that sets maillog_file: the API follows the file from then on (the threads stop publishing).
    await reloadWith(withApi.replace(/^maillog_file = .*$/m, `maillog_file = ${daemon.logFile}`), true, 'the API open after the reload');
    const fromFile = await openEvents(apiPort);
    const third = await sendMail(daemon.port, { from: 'a@client.test', to: ['t@remote.test'], raw: 'Subject: to the file\r\n\r\nbody\r\n' });
    await waitFor(() => receivedAndDelivered(fromFile, third.queueId!), 30_000, 'events from maillog_file');
    assert.match(readFileSync(daemon.logFile, 'utf8'), new RegExp(`${third.queueId}: to=<t@remote\\.test>.*status=sent`));
    fromFile.close();
  } finally {
    await daemon.stop();
    await sink.close();
  }
});

test('log to syslog: an injected message shows in the event stream and the throughput, and its lines reach the syslog socket', { skip: syslogReceiverSkip() }, async () => {
  const rx = await startSyslogReceiver();
  const sink = await startSmtpSink();
  const apiPort = await freePort();
  const daemon = await startDaemon({
    params: { maillog_file: '', syslog_socket: rx.socket, syslog_name: 'rider', relayhost: `[127.0.0.1]:${sink.port}`, http_api_listen: `127.0.0.1:${apiPort}` },
    // What `postrider start` sets for its detached daemon.
    env: { POSTRIDER_LOG: 'syslog' },
    readyTimeoutMs: 90_000,
  });
  try {
    const stream = await openEvents(apiPort);
    const r = await getJson(apiPort, '/api/v1/inject', 'POST', JSON.stringify({ from: 'api@client.test', to: ['r@remote.test'], raw: 'Subject: over syslog\r\n\r\nbody\r\n' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const id = (r.body as { queueId: string }).queueId;
    await waitFor(() => receivedAndDelivered(stream, id), 30_000, 'received and delivered events');
    assert.ok(stream.events.every((e) => e.program.startsWith('rider/')), 'lines under syslog_name');
    assert.deepEqual(await throughputSums(apiPort), { received: 1, delivered: 1, deferred: 0, bounced: 0 });
    assert.match(await rx.waitFor(new RegExp(`${id}: to=<r@remote\\.test>.*status=sent`)), /^<\d+>.* rider\/smtp\[\d+\]: /);
    assert.ok(!existsSync(daemon.logFile), 'no maillog_file');
    stream.close();
  } finally {
    await daemon.stop();
    await sink.close();
    rx.close();
  }
});
