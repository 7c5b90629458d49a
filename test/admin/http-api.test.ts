/**
 * The HTTP API over real HTTP against a running daemon: tokens, every
 * endpoint, bad input answered with a 4xx JSON error that changes nothing,
 * an injected message delivered byte-exact to a sink and seen in the event
 * stream, and queue actions that agree with `postrider queue`.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { makeTestCert } from '../helpers/tls-cert.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, runCli, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';
import { openEvents, receivedAndDelivered } from '../helpers/api-events.js';

const TOKEN = 'test-token-0123456789';
let sink: SmtpSink;
let daemon: RunningDaemon;
let apiPort = 0;

interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

function call(method: string, path: string, opts: { token?: string | null; body?: string; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: apiPort, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

async function queueListing(): Promise<Array<{ queue_id: string; queue_name: string }>> {
  const r = await daemon.cli(['queue', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { queue_id: string; queue_name: string });
}

before(async () => {
  sink = await startSmtpSink();
  apiPort = await freePort();
  const closed = await freePort();
  const files = mkdtempSync(join(tmpdir(), 'postrider-api-'));
  // Mail for stuck.test waits in the queue: its next hop refuses connections.
  writeFileSync(join(files, 'transport'), `stuck.test smtp:[127.0.0.1]:${closed}\n`);
  writeFileSync(join(files, 'api-tokens'), `# one a line\n${TOKEN}\n`);
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      http_api_listen: `127.0.0.1:${apiPort}`,
      http_api_token_file: join(files, 'api-tokens'),
      transport_maps: `texthash:${join(files, 'transport')}`,
      message_size_limit: '200000',
    },
    readyTimeoutMs: 90_000,
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('every API request needs a token of http_api_token_file; a wrong or missing one gets 401 and JSON', async () => {
  for (const [method, path] of [['GET', '/api/v1/status'], ['GET', '/api/v1/queue'], ['GET', '/api/v1/destinations'], ['GET', '/api/v1/throughput'], ['POST', '/api/v1/flush'], ['GET', '/api/v1/openapi.json'], ['GET', '/healthz']]) {
    const none = await call(method, path, { token: null });
    assert.equal(none.status, 401, `${method} ${path} without a token`);
    assert.match((none.body as { message: string }).message, /bearer token/);
    const wrong = await call(method, path, { token: 'nope' });
    assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
  }
  const ok = await call('GET', '/api/v1/status');
  assert.equal(ok.status, 200);
  const st = ok.body as { ready: boolean; actors: Array<{ role: string }> };
  assert.equal(st.ready, true);
  assert.ok(st.actors.some((a) => a.role === 'qmgr'));
  const health = await call('GET', '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, { status: 'ok' });
  // The dashboard's page holds no data: it is served to anyone who connects.
  const page = await call('GET', '/', { token: null });
  assert.equal(page.status, 200);
  assert.match(page.text, /<title>Postrider<\/title>/);
  assert.equal((await call('GET', '/uPlot.iife.min.js', { token: null })).status, 200);
});

test('the OpenAPI 3.1 document lists every endpoint with the schemas that validate it', async () => {
  const r = await call('GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.body as { openapi: string; paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: { pattern?: string } }> }>> };
  assert.equal(doc.openapi, '3.1.0');
  for (const p of ['/api/v1/status', '/api/v1/queue', '/api/v1/queue/{id}', '/api/v1/queue/{id}/hold', '/api/v1/queue/{id}/release', '/api/v1/queue/{id}/requeue', '/api/v1/flush', '/api/v1/inject', '/api/v1/destinations', '/api/v1/events', '/api/v1/throughput', '/healthz']) {
    assert.ok(doc.paths[p], `${p} is documented`);
  }
  assert.ok(doc.paths['/api/v1/queue/{id}'].delete, 'DELETE queue/{id}');
  const idParam = doc.paths['/api/v1/queue/{id}'].get.parameters!.find((x) => x.name === 'id')!;
  assert.equal(idParam.schema.pattern, '^[0-9A-Za-z]{6,20}$');
});

test('an injected message is queued, delivered byte-exact to the next hop, and shows in the event stream', async () => {
  // Listen first: the stream carries what happens from now on.
  const stream = await openEvents(apiPort, TOKEN);
  const raw = 'From: api@client.test\r\nTo: r@remote.test\r\nSubject: injected\r\nMessage-ID: <inject.1@client.test>\r\n\r\nLine one\r\n.dot line\r\n';
  const r = await call('POST', '/api/v1/inject', { body: JSON.stringify({ from: 'api@client.test', to: ['r@remote.test'], raw }) });
  assert.equal(r.status, 200, r.text);
  const { queueId, reply } = r.body as { queueId: string; reply: string };
  assert.match(queueId, /^[0-9A-Za-z]{6,20}$/);
  assert.match(reply, /^250 2\.0\.0 Ok: queued as /);
  await waitFor(() => sink.messages.some((m) => m.raw.includes('Message-ID: <inject.1@client.test>')), 20_000, 'delivery');
  const got = sink.messages.find((m) => m.raw.includes('Message-ID: <inject.1@client.test>'))!;
  assert.ok(got.raw.toString('latin1').endsWith(raw), 'the content arrives byte-exact after the Received line');
  await waitFor(() => receivedAndDelivered(stream, queueId), 20_000, 'events');
  stream.close();

  // Fields instead of raw content: nodemailer's composer builds the message.
  const composed = await call('POST', '/api/v1/inject', { body: JSON.stringify({ from: 'api@client.test', to: ['c@remote.test'], subject: 'composed', text: 'hello from fields' }) });
  assert.equal(composed.status, 200, composed.text);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('c@remote.test') && m.raw.includes('Subject: composed')), 20_000, 'composed delivery');
});

test('a message refused by smtpd comes back as 422 with the SMTP reply; nothing is queued', async () => {
  const before = (await queueListing()).length;
  const big = 'Subject: big\r\n\r\n' + 'x'.repeat(250_000) + '\r\n';
  const r = await call('POST', '/api/v1/inject', { body: JSON.stringify({ from: 'a@client.test', to: ['r@remote.test'], raw: big }) });
  assert.equal(r.status, 422, r.text);
  assert.match((r.body as { smtp: string }).smtp, /^552 5\.3\.4 /);
  assert.equal((await queueListing()).length, before);
});

test('bad input gets a 4xx with a JSON error and changes nothing', async () => {
  const before = await queueListing();
  const cases: Array<[string, string, string | undefined, number]> = [
    ['GET', '/api/v1/queue/bad!id', undefined, 400],
    ['GET', '/api/v1/queue/ZZZZZZZZZZ', undefined, 404],
    ['POST', '/api/v1/queue/ZZZZZZZZZZ/hold', undefined, 404],
    ['DELETE', '/api/v1/queue/ab', undefined, 400],
    ['GET', '/api/v1/queue?state=lost', undefined, 400],
    ['GET', '/api/v1/queue?limit=0', undefined, 400],
    ['POST', '/api/v1/inject', '{"from": "a@b", "to": ', 400],
    ['POST', '/api/v1/inject', '{"from": "a@b"}', 400],
    ['POST', '/api/v1/inject', '{"from": "a@b", "to": [], "raw": "x"}', 400],
    ['POST', '/api/v1/inject', '{"from": "a@b", "to": ["c@d"], "raw": "x", "extra": 1}', 400],
    ['POST', '/api/v1/flush', '{"site": "two words"}', 400],
    ['POST', '/api/v1/inject', JSON.stringify({ from: 'a@b', to: ['c@d'], raw: 'x'.repeat(1_200_000) }), 413],
  ];
  for (const [method, path, body, status] of cases) {
    const r = await call(method, path, { body });
    assert.equal(r.status, status, `${method} ${path} ${body?.slice(0, 40) ?? ''}: ${r.text.slice(0, 200)}`);
    assert.equal(typeof (r.body as { message?: unknown }).message, 'string', `${method} ${path}: a JSON error`);
  }
  assert.deepEqual((await queueListing()).map((m) => m.queue_id), before.map((m) => m.queue_id));
});

test('hold, release, requeue and delete agree with postrider queue; flush and destinations answer', async () => {
  const r = await call('POST', '/api/v1/inject', { body: JSON.stringify({ from: 'a@client.test', to: ['w@stuck.test'], raw: 'Subject: stuck\r\n\r\nwaits\r\n' }) });
  assert.equal(r.status, 200, r.text);
  const id = (r.body as { queueId: string }).queueId;
  await waitFor(async () => (await queueListing()).some((m) => m.queue_id === id && m.queue_name === 'deferred'), 30_000, 'deferred');

  const listed = await call('GET', '/api/v1/queue?state=deferred&destination=stuck.test');
  assert.equal(listed.status, 200);
  const page = listed.body as { total: number; messages: Array<{ queue_id: string; recipients: Array<{ address: string; delay_reason?: string }> }> };
  const mine = page.messages.find((m) => m.queue_id === id)!;
  assert.equal(mine.recipients[0].address, 'w@stuck.test');
  assert.match(mine.recipients[0].delay_reason ?? '', /connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: Connection refused/);

  const one = await call('GET', `/api/v1/queue/${id}?body=true`);
  assert.equal(one.status, 200);
  const shown = one.body as { headers: string; body: string; envelope: { sender: string } };
  assert.equal(shown.envelope.sender, 'a@client.test');
  assert.match(shown.headers, /Subject: stuck/);
  assert.equal(shown.body, 'waits\r\n');
  const headersOnly = (await call('GET', `/api/v1/queue/${id}`)).body as Record<string, unknown>;
  assert.equal('body' in headersOnly, false, 'the body only on request');

  const held = await call('POST', `/api/v1/queue/${id}/hold`);
  assert.deepEqual(held.body, { affected: 1, queueIds: [id] });
  assert.equal((await queueListing()).find((m) => m.queue_id === id)!.queue_name, 'hold');
  await waitFor(() => new RegExp(`postrider/postsuper\\[\\d+\\]: ${id}: placed on hold`).test(daemon.log()), 5000, 'postsuper log line');
  const released = await call('POST', `/api/v1/queue/${id}/release`);
  assert.deepEqual(released.body, { affected: 1, queueIds: [id] });
  assert.notEqual((await queueListing()).find((m) => m.queue_id === id)!.queue_name, 'hold');
  assert.equal((await call('POST', `/api/v1/queue/${id}/requeue`)).status, 200);

  const flushed = await call('POST', '/api/v1/flush', { body: JSON.stringify({ site: 'stuck.test' }) });
  assert.equal(flushed.status, 200);
  assert.equal(typeof (flushed.body as { scheduled: number }).scheduled, 'number');

  await waitFor(async () => {
    const d = (await call('GET', '/api/v1/destinations')).body as { destinations: Array<{ nexthop: string; lastError?: { reason: string } }>; domains: Array<{ domain: string; deferred: number; active: number }> };
    return d.domains.some((x) => x.domain === 'stuck.test') && d.destinations.some((x) => x.nexthop.includes('127.0.0.1') && /Connection refused/.test(x.lastError?.reason ?? ''));
  }, 30_000, 'destinations');

  const deleted = await call('DELETE', `/api/v1/queue/${id}`);
  assert.deepEqual(deleted.body, { affected: 1, queueIds: [id] });
  assert.equal((await queueListing()).some((m) => m.queue_id === id), false);
  assert.equal((await call('GET', `/api/v1/queue/${id}`)).status, 404);
});

test('the throughput series covers the last hour and counts what was delivered', async () => {
  const r = await call('GET', '/api/v1/throughput');
  assert.equal(r.status, 200);
  const s = r.body as { start: number; received: number[]; delivered: number[]; deferred: number[]; bounced: number[] };
  assert.equal(s.received.length, 3600);
  assert.ok(s.delivered.reduce((a, b) => a + b, 0) >= 2, 'the injected messages were counted');
  assert.ok(Math.abs(s.start + 3599 - Math.floor(Date.now() / 1000)) <= 2);
});

test('check refuses a non-loopback http_api_listen without a token file, and a token file with no token', async () => {
  const check = async (lines: string[]): Promise<{ code: number; stderr: string }> => {
    const dir = mkdtempSync(join(tmpdir(), 'postrider-api-check-'));
    cpSync(daemon.configDir, dir, { recursive: true });
    appendFileSync(join(dir, 'main.cf'), [`queue_directory = ${join(dir, 'spool')}`, ...lines, ''].join('\n'));
    return runCli(dir, ['check']);
  };
  const open = await check(['http_api_listen = 0.0.0.0:2580', 'http_api_token_file =']);
  assert.equal(open.code, 1);
  assert.match(open.stderr, /http_api_listen = 0\.0\.0\.0:2580: not a loopback address, and http_api_token_file is not set/);
  const emptyFile = join(mkdtempSync(join(tmpdir(), 'postrider-api-')), 'tokens');
  writeFileSync(emptyFile, '# none yet\n');
  const empty = await check([`http_api_token_file = ${emptyFile}`]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /http_api_token_file = .*tokens: no token in the file/);
  const halfTls = await check(['http_api_tls_cert_file = /nonexistent/cert.pem']);
  assert.equal(halfTls.code, 1);
  assert.match(halfTls.stderr, /http_api_tls_cert_file and http_api_tls_key_file go together/);
});

test('reload follows the settings: HTTPS with the test certificate, and /healthz public with http_api_public_health', async () => {
  const cert = makeTestCert('localhost');
  appendFileSync(join(daemon.configDir, 'main.cf'), [`http_api_tls_cert_file = ${cert.certFile}`, `http_api_tls_key_file = ${cert.keyFile}`, 'http_api_public_health = yes', ''].join('\n'));
  const r = await daemon.cli(['reload']);
  assert.equal(r.code, 0, r.stderr);
  const get = (path: string, token?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsGet({ host: '127.0.0.1', port: apiPort, path, ca: cert.cert, servername: 'localhost', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
  await waitFor(async () => (await get('/healthz').catch(() => ({ status: 0, body: '' }))).status === 200, 20_000, 'HTTPS after the reload');
  assert.deepEqual(JSON.parse((await get('/healthz')).body), { status: 'ok' });
  assert.equal((await get('/api/v1/status')).status, 401, 'the rest still needs a token');
  assert.equal((await get('/api/v1/status', TOKEN)).status, 200);
  // Plain HTTP is gone from the port.
  await assert.rejects(call('GET', '/healthz'));
});
