/** check_policy_service: a policy server written here (inet and unix), its requests, every action of its answers, and its failures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ehloSession, logLines, startSmtpd, until, type Harness } from './smtpd-test-kit.js';

type Attrs = Record<string, string>;

/** A policy server: records every request (and on which connection), answers with `answer`. */
interface PolicyServer {
  requests: Array<Attrs & { conn: string }>;
  connections: number;
  /** Connections open now. */
  open: number;
  address: string;
  close(): Promise<void>;
}

async function policyServer(listen: { port: number } | { path: string }, answer: (a: Attrs) => string | undefined): Promise<PolicyServer> {
  const sockets = new Set<Socket>();
  const ps: PolicyServer = { requests: [], connections: 0, open: 0, address: '', close: async () => undefined };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    ps.open++;
    const conn = String(++ps.connections);
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      ps.open--;
    });
    socket.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const attrs: Attrs = {};
        for (const line of buf.slice(0, end).split('\n')) {
          const eq = line.indexOf('=');
          attrs[line.slice(0, eq)] = line.slice(eq + 1);
        }
        buf = buf.slice(end + 2);
        ps.requests.push({ ...attrs, conn });
        const text = answer(attrs);
        if (text !== undefined) socket.write(text);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen('port' in listen ? { port: listen.port, host: '127.0.0.1' } : { path: listen.path }, resolve));
  const a = server.address();
  ps.address = typeof a === 'string' ? `unix:${a}` : `inet:127.0.0.1:${a!.port}`;
  ps.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return ps;
}

/** The answer for the recipient's local part: "action=..." from a table of local parts. */
function byLocalPart(actions: Record<string, string>): (a: Attrs) => string {
  return (a) => `action=${actions[a.recipient.split('@')[0]] ?? 'DUNNO'}\n\n`;
}

async function withBoth(ps: PolicyServer, params: Record<string, string>, body: (h: Harness) => Promise<void>, dir?: string): Promise<void> {
  const h = await startSmtpd(params, dir);
  try {
    await body(h);
  } finally {
    await h.stop();
    await ps.close();
  }
}

/** RCPT replies of one transaction (MAIL with `mailArgs`), then the end of it: DATA's final reply when `data` is given. */
async function transaction(h: Harness, rcpts: string[], data?: string, mailArgs = ''): Promise<string[]> {
  const c = await ehloSession(h.port, 'client.test.example');
  try {
    const out: string[] = [];
    const mail = (await c.cmd(`MAIL FROM:<s@test.example>${mailArgs}`))!;
    assert.match(mail, /^250/);
    for (const r of rcpts) out.push((await c.cmd(`RCPT TO:<${r}>`))!);
    if (data !== undefined) {
      const go = (await c.cmd('DATA'))!;
      if (go.startsWith('354')) out.push((await c.cmd(`${data}\r\n.`))!);
      else out.push(go);
    }
    return out;
  } finally {
    c.close();
  }
}

test('check_policy_service inet: the request carries Postfix\'s attributes; one instance per message; one kept connection', async () => {
  const ps = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(
    ps,
    {
      smtpd_recipient_restrictions: `check_policy_service ${ps.address}, permit_mynetworks, reject_unauth_destination`,
      smtpd_end_of_data_restrictions: `check_policy_service ${ps.address}`,
      smtpd_policy_service_policy_context: 'ctx-one',
      compatibility_level: '3.6',
    },
    async (h) => {
      const replies = await transaction(h, ['a@mx.test.example', 'b@mx.test.example'], 'Subject: t\r\n\r\nhello', ' SIZE=321');
      assert.deepEqual(replies.slice(0, 2), ['250 2.1.5 Ok', '250 2.1.5 Ok']);
      assert.match(replies[2], /^250 2\.0\.0 Ok: queued as /);
      await transaction(h, ['c@mx.test.example']);
      assert.equal(ps.requests.length, 4);
      const [first, second, eod, next] = ps.requests;
      assert.equal(first.request, 'smtpd_access_policy');
      assert.equal(first.protocol_state, 'RCPT');
      assert.equal(first.protocol_name, 'ESMTP');
      assert.equal(first.helo_name, 'client.test.example');
      assert.equal(first.queue_id, h.submissions[0].queueId);
      assert.equal(first.sender, 's@test.example');
      assert.equal(first.recipient, 'a@mx.test.example');
      assert.equal(first.recipient_count, '0');
      assert.equal(second.recipient_count, '1');
      assert.equal(first.client_address, '127.0.0.1');
      assert.equal(first.client_name, h.submissions[0].client.name);
      assert.equal(first.reverse_client_name, h.submissions[0].client.name);
      assert.equal(first.size, '321');
      assert.equal(first.server_address, '127.0.0.1');
      assert.equal(first.server_port, String(h.port));
      assert.match(first.client_port, /^[1-9]\d*$/);
      assert.equal(first.policy_context, 'ctx-one');
      assert.equal(first.compatibility_level, '3.6');
      assert.equal(first.mail_version, '0.1.0');
      for (const name of ['sasl_method', 'sasl_username', 'sasl_sender', 'ccert_subject', 'encryption_protocol', 'etrn_domain', 'stress']) {
        assert.equal(first[name], '', name);
      }
      assert.equal(eod.protocol_state, 'END-OF-MESSAGE');
      assert.equal(eod.recipient_count, '2');
      assert.equal(eod.recipient, '');
      assert.equal(eod.size, String('Subject: t\r\n\r\nhello\r\n'.length), 'the message size at end of data');
      assert.equal(Buffer.from(h.submissions[0].content).toString('latin1'), 'Subject: t\r\n\r\nhello\r\n', 'the content reaches the queue whole');
      assert.ok(first.instance);
      assert.equal(second.instance, first.instance, 'every request about one message has one instance');
      assert.equal(eod.instance, first.instance);
      assert.notEqual(next.instance, first.instance, 'the next message has another');
      assert.deepEqual(
        ps.requests.map((r) => r.conn),
        ['1', '1', '1', '1'],
        'one connection serves every request',
      );
    },
  );
});

test('check_policy_service unix: a socket path relative to the queue directory; its REJECT refuses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-unix-'));
  mkdirSync(join(dir, 'queue', 'private'), { recursive: true });
  const ps = await policyServer({ path: join(dir, 'queue', 'private', 'policy') }, byLocalPart({ bad: 'REJECT go away' }));
  await withBoth(
    ps,
    { queue_directory: 'queue', smtpd_recipient_restrictions: 'check_policy_service unix:private/policy, permit_mynetworks, reject_unauth_destination' },
    async (h) => {
      assert.deepEqual(await transaction(h, ['bad@mx.test.example', 'good@mx.test.example']), [
        '554 5.7.1 <bad@mx.test.example>: Recipient address rejected: go away',
        '250 2.1.5 Ok',
      ]);
      assert.equal(ps.requests.length, 2);
      assert.ok(logLines.some((l) => l.includes('NOQUEUE: reject: RCPT from') && l.includes('<bad@mx.test.example>: Recipient address rejected: go away; from=<s@test.example> to=<bad@mx.test.example>')));
    },
    dir,
  );
});

test('every access action of a policy answer: OK, DUNNO, REJECT, DEFER, DEFER_IF_PERMIT, DEFER_IF_REJECT, numeric replies, a restriction', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-actions-'));
  writeFileSync(join(dir, 'after'), 'dir@mx.test.example REJECT late\ndunno@mx.test.example REJECT after dunno\n');
  const ps = await policyServer(
    { port: 0 },
    byLocalPart({
      ok: 'OK',
      num: '200',
      dunno: 'DUNNO',
      reject: 'REJECT',
      defer: 'DEFER come back',
      dip: 'DEFER_IF_PERMIT not so fast',
      dir: 'DEFER_IF_REJECT maybe later',
      code5: '550 5.1.1 no such user',
      code4: '452 4.2.2 full up',
      last: '421 try later',
      restriction: 'reject_unauth_destination',
    }),
  );
  await withBoth(
    ps,
    { smtpd_recipient_restrictions: `check_policy_service ${ps.address}, check_recipient_access texthash:after, permit` },
    async (h) => {
      const rcpts = ['ok', 'num', 'dunno', 'reject', 'defer', 'dip', 'dir', 'code5', 'code4'].map((l) => `${l}@mx.test.example`);
      assert.deepEqual(await transaction(h, [...rcpts, 'restriction@elsewhere.example', 'last@mx.test.example']), [
        '250 2.1.5 Ok',
        '250 2.1.5 Ok',
        '554 5.7.1 <dunno@mx.test.example>: Recipient address rejected: after dunno',
        '554 5.7.1 <reject@mx.test.example>: Recipient address rejected: Access denied',
        '450 4.7.1 <defer@mx.test.example>: Recipient address rejected: come back',
        '450 4.7.1 <dip@mx.test.example>: Recipient address rejected: not so fast',
        '450 4.7.1 <dir@mx.test.example>: Recipient address rejected: maybe later',
        '550 5.1.1 <code5@mx.test.example>: Recipient address rejected: no such user',
        '452 4.2.2 <code4@mx.test.example>: Recipient address rejected: full up',
        '554 5.7.1 <restriction@elsewhere.example>: Relay access denied',
        // A 421 ends the session, as Postfix's smtpd does.
        '421 4.7.1 <last@mx.test.example>: Recipient address rejected: try later',
      ]);
    },
    dir,
  );
});

test('policy answers that act on the message: HOLD, DISCARD, FILTER, REDIRECT, BCC, PREPEND, WARN, INFO', async () => {
  const ps = await policyServer(
    { port: 0 },
    byLocalPart({
      hold: 'HOLD look at it',
      filter: 'FILTER scan:[127.0.0.1]:10025',
      redirect: 'REDIRECT boss@mx.test.example',
      bcc: 'BCC archive@mx.test.example',
      prepend: 'PREPEND X-Policy: seen',
      warn: 'WARN odd one',
      info: 'INFO note this',
      discard: 'DISCARD not wanted',
      badfilter: 'FILTER nocolon',
    }),
  );
  await withBoth(ps, { smtpd_recipient_restrictions: `check_policy_service ${ps.address}, permit_mynetworks, reject` }, async (h) => {
    const rcpts = ['hold', 'filter', 'redirect', 'bcc', 'prepend', 'warn', 'info', 'badfilter'].map((l) => `${l}@mx.test.example`);
    const replies = await transaction(h, rcpts, 'Subject: x\r\n\r\nbody');
    assert.ok(replies.slice(0, -1).every((r) => r === '250 2.1.5 Ok'), replies.join(' | '));
    assert.match(replies.at(-1)!, /^250 2\.0\.0 Ok: queued as/);
    assert.deepEqual(h.submissions[0].actions, {
      hold: true,
      filter: 'scan:[127.0.0.1]:10025',
      redirect: 'boss@mx.test.example',
      bcc: ['archive@mx.test.example'],
      prepend: ['X-Policy: seen'],
    });
    const id = h.submissions[0].queueId;
    assert.ok(logLines.some((l) => l.includes('NOQUEUE: hold: RCPT from') && l.includes('<hold@mx.test.example>: Recipient address look at it; from=<s@test.example> to=<hold@mx.test.example>')));
    // The first recipient's actions come before the queue file, as in Postfix; the later ones name it.
    assert.ok(logLines.some((l) => l.includes(`${id}: filter: RCPT from`) && l.includes('<filter@mx.test.example>: Recipient address triggers FILTER scan:[127.0.0.1]:10025; from=')));
    assert.ok(logLines.some((l) => l.includes(`${id}: warn: RCPT from`) && l.includes('RCPT from localhost[127.0.0.1]: odd one; from=<s@test.example> to=<warn@mx.test.example>')));
    assert.ok(logLines.some((l) => l.includes(`${id}: info: RCPT from`) && l.includes('note this')));
    assert.ok(logLines.some((l) => l.includes('need FILTER transport:destination')));

    // DISCARD permits the recipient (nothing after it is asked) and marks the message.
    assert.deepEqual((await transaction(h, ['discard@mx.test.example'], 'Subject: y\r\n\r\nbody')).slice(0, 1), ['250 2.1.5 Ok']);
    assert.deepEqual(h.submissions[1].actions, { discard: 'not wanted' });
  });
});

test('policy server down: the default action (smtpd_policy_service_default_action, or the service\'s own) and a warning naming it', async () => {
  // A port nobody listens on: taken, then freed.
  const gone = await policyServer({ port: 0 }, () => undefined);
  await gone.close();
  const ps = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(
    ps,
    {
      smtpd_recipient_restrictions: `check_policy_service ${gone.address}, permit_mynetworks, reject`,
      smtpd_policy_service_retry_delay: '1s',
      smtpd_policy_service_try_limit: '2',
    },
    async (h) => {
      assert.deepEqual(await transaction(h, ['u@mx.test.example']), ['451 4.3.5 <u@mx.test.example>: Recipient address rejected: Server configuration problem']);
      assert.ok(logLines.some((l) => l.includes(`warning: problem talking to server ${gone.address}: Connection refused`)));
    },
  );
  const h2 = await startSmtpd({
    smtpd_recipient_restrictions: `check_policy_service { ${gone.address}, try_limit=1, default_action=DUNNO }, permit_mynetworks, reject`,
  });
  try {
    assert.deepEqual(await transaction(h2, ['u@mx.test.example']), ['250 2.1.5 Ok']);
  } finally {
    await h2.stop();
  }
  const h3 = await startSmtpd({
    smtpd_recipient_restrictions: `check_policy_service ${gone.address}, permit_mynetworks, reject`,
    smtpd_policy_service_try_limit: '1',
    smtpd_policy_service_default_action: 'DEFER_IF_PERMIT Policy service down',
  });
  try {
    assert.deepEqual(await transaction(h3, ['u@mx.test.example']), ['450 4.7.1 <u@mx.test.example>: Recipient address rejected: Policy service down']);
  } finally {
    await h3.stop();
  }
});

test('a policy server answering garbage, or not at all: the default action and a warning', async () => {
  const garbage = await policyServer({ port: 0 }, () => 'hello there\n\n');
  await withBoth(garbage, { smtpd_recipient_restrictions: `check_policy_service ${garbage.address}, permit_mynetworks`, smtpd_policy_service_try_limit: '1' }, async (h) => {
    assert.deepEqual(await transaction(h, ['u@mx.test.example']), ['451 4.3.5 <u@mx.test.example>: Recipient address rejected: Server configuration problem']);
    assert.ok(logLines.some((l) => l.includes(`problem talking to server ${garbage.address}: malformed answer line "hello there"`)));
  });
  const noAction = await policyServer({ port: 0 }, () => 'result=ok\n\n');
  await withBoth(noAction, { smtpd_recipient_restrictions: `check_policy_service ${noAction.address}, permit_mynetworks`, smtpd_policy_service_try_limit: '1' }, async (h) => {
    assert.match((await transaction(h, ['u@mx.test.example']))[0], /^451 4\.3\.5 /);
    assert.ok(logLines.some((l) => l.includes(`problem talking to server ${noAction.address}: answer without an action attribute`)));
  });
  const silent = await policyServer({ port: 0 }, () => undefined);
  await withBoth(
    silent,
    { smtpd_recipient_restrictions: `check_policy_service ${silent.address}, permit_mynetworks`, smtpd_policy_service_try_limit: '2', smtpd_policy_service_timeout: '1s' },
    async (h) => {
      assert.match((await transaction(h, ['u@mx.test.example']))[0], /^451 4\.3\.5 /);
      assert.ok(logLines.some((l) => l.includes(`problem talking to server ${silent.address}: timeout while waiting for the answer`)));
      assert.equal(silent.requests.length, 2, 'smtpd_policy_service_try_limit attempts');
      assert.equal(silent.connections, 2, 'each attempt on a new connection');
    },
  );
});

test('policy connections: reused, and closed after smtpd_policy_service_request_limit requests, max_idle and max_ttl', async () => {
  const ps = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(ps, { smtpd_recipient_restrictions: `check_policy_service ${ps.address}, permit_mynetworks`, smtpd_policy_service_request_limit: '2' }, async (h) => {
    await transaction(h, ['a@mx.test.example', 'b@mx.test.example', 'c@mx.test.example']);
    assert.deepEqual(ps.requests.map((r) => r.conn), ['1', '1', '2']);
  });
  // Postrider's smtpd_policy_service_reuse_count_limit: SMTP sessions per connection, whatever their requests.
  const sessions = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(sessions, { smtpd_recipient_restrictions: `check_policy_service ${sessions.address}, permit_mynetworks`, smtpd_policy_service_reuse_count_limit: '2' }, async (h) => {
    await transaction(h, ['a@mx.test.example', 'b@mx.test.example', 'c@mx.test.example']);
    await transaction(h, ['d@mx.test.example']);
    await transaction(h, ['e@mx.test.example', 'f@mx.test.example']);
    assert.deepEqual(sessions.requests.map((r) => `${r.recipient.split('@')[0]}:${r.conn}`), ['a:1', 'b:1', 'c:1', 'd:1', 'e:2', 'f:2'], 'the third session is on a new connection');
    // The first connection closed when its second session ended.
    await until(() => sessions.open === 1);
  });
  const perService = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(perService, { smtpd_recipient_restrictions: `check_policy_service { ${perService.address}, reuse_count_limit=1 }, permit_mynetworks` }, async (h) => {
    await transaction(h, ['a@mx.test.example', 'b@mx.test.example']);
    await transaction(h, ['c@mx.test.example']);
    assert.deepEqual(perService.requests.map((r) => r.conn), ['1', '1', '2'], 'reuse_count_limit=1: one session per connection');
  });
  const idle = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(idle, { smtpd_recipient_restrictions: `check_policy_service ${idle.address}, permit_mynetworks`, smtpd_policy_service_max_idle: '1s' }, async (h) => {
    await transaction(h, ['a@mx.test.example', 'b@mx.test.example']);
    await new Promise((r) => setTimeout(r, 1500));
    await transaction(h, ['c@mx.test.example']);
    assert.deepEqual(idle.requests.map((r) => r.conn), ['1', '1', '2']);
  });
  const ttl = await policyServer({ port: 0 }, () => 'action=DUNNO\n\n');
  await withBoth(ttl, { smtpd_recipient_restrictions: `check_policy_service { ${ttl.address}, max_ttl=1s }, permit_mynetworks` }, async (h) => {
    await transaction(h, ['a@mx.test.example']);
    await new Promise((r) => setTimeout(r, 1200));
    await transaction(h, ['b@mx.test.example', 'c@mx.test.example']);
    assert.deepEqual(ttl.requests.map((r) => r.conn), ['1', '2', '2']);
  });
  await until(() => true);
});
