/**
 * smtpd-auth: verification of mail received over SMTP against a real DNS
 * server on loopback holding the SPF, DKIM and DMARC records: the one
 * Authentication-Results header (forged ones removed), SPF pass / fail /
 * softfail / temperror / permerror with reject_spf_fail and
 * defer_spf_temperror, DKIM pass (RSA and Ed25519) and fail for a message
 * signed outside (python3-dkim), DMARC reject and quarantine with
 * reject_dmarc_policy (and a deferral when a DNS failure leaves it unknown), ARC
 * sets sealed by Postrider that mailauth validates (on mail without a chain,
 * on a valid i=1 chain sealed by another forwarder with mailauth, on one
 * broken after that seal), DNS answers kept in the cache and DNS failures
 * reported as temperror. Messages go through the real cleanup, as in the daemon.
 */
process.env.TZ = 'UTC';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, dkimSign } from 'mailauth';
import { MainConfig } from '../../../src/config/main-config.js';
import { Cleanup } from '../../../src/cleanup/cleanup.js';
import { TrivialRewrite } from '../../../src/actors/trivial-rewrite/trivial-rewrite.js';
import { Smtpd } from '../../../src/actors/smtpd/smtpd.js';
import type { NewMessage } from '../../../src/store/store-types.js';
import { Logger } from '../../../src/util/log.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { dkimpySign, dkimpySkip, ed25519Key, rsaKey, type TestKey } from '../../helpers/dkim-tools.js';
import { ehloSession, logLines, service, until } from './smtpd-test-kit.js';

let dns: TestDnsServer;
let outside: TestKey;
let arcKey: TestKey;
let forwarder: TestKey;
let dir: string;

before(async () => {
  outside = rsaKey(2048);
  arcKey = ed25519Key();
  forwarder = rsaKey(2048);
  dir = mkdtempSync(join(tmpdir(), 'smtpd-auth-'));
  writeFileSync(join(dir, 'arc.pem'), arcKey.pem);
  writeFileSync(join(dir, 'arc-keys'), 'arc._domainkey.mx.test.example mx.test.example:arc:arc.pem\n');
  writeFileSync(join(dir, 'arc-signing'), 'lists.test.example arc._domainkey.mx.test.example\n');
  dns = await startDnsServer({
    'pass.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    '_dmarc.pass.example': { TXT: ['v=DMARC1; p=reject'] },
    'fail.example': { TXT: ['v=spf1 ip4:192.0.2.1 -all exp=why.fail.example'] },
    'why.fail.example': { TXT: ['Mail from fail.example comes from 192.0.2.1 only'] },
    'soft.example': { TXT: ['v=spf1 ~all'] },
    'broken.example': { servfail: true },
    'perm.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all', 'v=spf1 -all'] },
    'client.test.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    'signer.example': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    'sel._domainkey.signer.example': { TXT: [outside.record] },
    '_dmarc.signer.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.reject.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.quarantine.example': { TXT: ['v=DMARC1; p=quarantine'] },
    'arc._domainkey.mx.test.example': { TXT: [arcKey.record] },
    'fwd._domainkey.forwarder.example': { TXT: [forwarder.record] },
    'ed._domainkey.signer.example': { TXT: [arcKey.record] },
    'sel._domainkey.dnsfail.example': { servfail: true },
    '_dmarc.dnsfail.example': { TXT: ['v=DMARC1; p=reject'] },
  });
});

after(async () => {
  await dns.close();
});

interface Harness {
  port: number;
  queued: NewMessage[];
  stop(): Promise<void>;
}

/** A real Smtpd whose submissions go through a real Cleanup (as smtpd-actor wires them). */
async function start(params: Record<string, string>): Promise<Harness> {
  const config = new MainConfig(
    {
      myhostname: 'mx.test.example',
      mydomain: 'test.example',
      mydestination: 'mx.test.example, localhost',
      mynetworks: '192.0.2.0/24',
      local_recipient_maps: '',
      smtpd_greet_wait: '0s',
      smtpd_error_sleep_time: '0s',
      dns_resolver_servers: `${dns.address}:${dns.port}`,
      smtpd_authentication_results: 'yes',
      relay_domains: 'lists.test.example',
      ...params,
    },
    dir,
  );
  const tr = new TrivialRewrite(config);
  const cleanup = new Cleanup({ config, log: new Logger('cleanup', 1), instance: 1, rewrite: async (a, r) => tr.rewrite(a, r) });
  const queued: NewMessage[] = [];
  const smtpd = new Smtpd({
    config,
    service: service(),
    log: new Logger('smtpd', 1),
    idSalt: 0,
    submit: async (s) => {
      const r = await cleanup.process({ ...s, local: false });
      if (r.action !== 'queue') return { ok: false, code: 550, dsn: '5.7.1', text: r.reason };
      queued.push(r.message);
      return { ok: true, queueId: s.queueId };
    },
  });
  const bound = await smtpd.listen();
  return {
    port: bound.port,
    queued,
    stop: async () => {
      await smtpd.close();
      await cleanup.close();
    },
  };
}

/** Sends one message; the reply to its end of data (or to the first refused command). */
async function send(h: Harness, from: string, to: string, message: string, helo = 'client.test.example'): Promise<string> {
  const c = await ehloSession(h.port, helo);
  try {
    const mail = (await c.cmd(`MAIL FROM:<${from}>`))!;
    if (!mail.startsWith('250')) return mail;
    const rcpt = (await c.cmd(`RCPT TO:<${to}>`))!;
    if (!rcpt.startsWith('250')) return rcpt;
    await c.cmd('DATA');
    return (await c.cmd(`${message.replace(/\r\n$/, '')}\r\n.`))!;
  } finally {
    c.close();
  }
}

/** The Authentication-Results headers of a queued message, unfolded. */
function results(m: NewMessage): string[] {
  const head = Buffer.from(m.content).subarray(0, m.headerLength).toString();
  return [...head.matchAll(/^Authentication-Results:((?:[^\r]|\r\n[ \t])*)/gim)].map((x) => x[1].replace(/\r\n[ \t]*/g, ' ').trim());
}

/** A message of dnsfail.example with a DKIM signature whose key lookup gets SERVFAIL (SPF does not align: it comes from pass.example). */
async function signedDuringDnsFailure(): Promise<string> {
  const raw = BODY('ceo@dnsfail.example');
  const key = { signingDomain: 'dnsfail.example', selector: 'sel', privateKey: outside.pem };
  const s = await dkimSign(raw, { ...key, signatureData: [key] });
  assert.match(s.signatures, /^DKIM-Signature: /);
  return s.signatures + raw;
}

const BODY = (from: string): string => `From: ${from}\r\nTo: u@mx.test.example\r\nSubject: test\r\nDate: Sat, 28 Nov 2026 20:31:07 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\nbody\r\n`;

test('SPF pass, softfail and permerror are accepted and recorded; reject_spf_fail and defer_spf_temperror refuse fail and temperror with Postfix-style reject lines', async () => {
  const h = await start({ smtpd_sender_restrictions: 'reject_spf_fail, defer_spf_temperror' });
  try {
    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', BODY('s@pass.example')), /^250 2\.0\.0 Ok: queued as/);
    assert.match(results(h.queued[0])[0], /^mx\.test\.example; .*spf=pass .*smtp\.mailfrom=s@pass\.example/);
    assert.match(results(h.queued[0])[0], /spf=pass smtp\.helo=client\.test\.example/);
    assert.match(await send(h, 's@soft.example', 'u@mx.test.example', BODY('s@soft.example')), /^250 /);
    assert.match(results(h.queued[1])[0], /spf=softfail .*smtp\.mailfrom=s@soft\.example/);
    assert.match(await send(h, 's@perm.example', 'u@mx.test.example', BODY('s@perm.example')), /^250 /);
    assert.match(results(h.queued[2])[0], /spf=permerror .*smtp\.mailfrom=s@perm\.example/);

    assert.equal(
      await send(h, 's@fail.example', 'u@mx.test.example', BODY('s@fail.example')),
      '550 5.7.23 <s@fail.example>: Sender address rejected: SPF fail - not authorized: Mail from fail.example comes from 192.0.2.1 only',
    );
    await until(() => logLines.some((l) => l.includes('NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.7.23 <s@fail.example>: Sender address rejected: SPF fail - not authorized') && l.endsWith('from=<s@fail.example> to=<u@mx.test.example> proto=ESMTP helo=<client.test.example>')));
    assert.equal(await send(h, 's@broken.example', 'u@mx.test.example', BODY('s@broken.example')), '451 4.7.24 <s@broken.example>: Sender address rejected: SPF temporary error - try again later');
    await until(() => logLines.some((l) => l.includes('NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 451 4.7.24 <s@broken.example>')));
    assert.equal(h.queued.length, 3);
  } finally {
    await h.stop();
  }
  // Without the restrictions, fail and temperror are only recorded.
  const open = await start({});
  try {
    assert.match(await send(open, 's@fail.example', 'u@mx.test.example', BODY('s@fail.example')), /^250 /);
    assert.match(results(open.queued[0])[0], /spf=fail .*smtp\.mailfrom=s@fail\.example/);
    assert.match(await send(open, 's@broken.example', 'u@mx.test.example', BODY('s@broken.example')), /^250 /);
    assert.match(results(open.queued[1])[0], /spf=temperror .*smtp\.mailfrom=s@broken\.example/);
  } finally {
    await open.stop();
  }
});

test('a message signed outside by python3-dkim gets dkim=pass and DMARC pass; tampered, dkim=fail; forged Authentication-Results claiming our id are removed', { skip: dkimpySkip }, async () => {
  const h = await start({ authserv_id: 'auth.test.example' });
  try {
    const raw = Buffer.from(BODY('Signer <a@signer.example>'));
    const signed = dkimpySign(raw, 'signer.example', 'sel', outside) + raw.toString();
    const forged = 'Authentication-Results: auth.test.example; dkim=pass header.d=paypal.example; spf=pass\r\nAuthentication-Results: other.example; spf=pass smtp.mailfrom=a@signer.example\r\n';
    assert.match(await send(h, 'a@signer.example', 'u@mx.test.example', forged + signed), /^250 /);
    const r = results(h.queued[0]);
    assert.equal(r.length, 2, r.join('\n'));
    assert.match(r[0], /^auth\.test\.example; dkim=pass header\.i=@signer\.example header\.s=sel .*; spf=fail .*dmarc=pass/);
    assert.match(r[1], /^other\.example; spf=pass/, 'another host\'s results are kept');
    assert.doesNotMatch(Buffer.from(h.queued[0].content).toString(), /paypal/);
    // Ed25519 (RFC 8463), signed by python3-dkim too.
    const ed = dkimpySign(raw, 'signer.example', 'ed', arcKey, undefined, 'ed25519-sha256') + raw.toString();
    assert.match(ed, /^DKIM-Signature: v=1; a=ed25519-sha256;/);
    assert.match(await send(h, 'a@signer.example', 'u@mx.test.example', ed), /^250 /);
    assert.match(results(h.queued.at(-1)!)[0], /dkim=pass header\.i=@signer\.example header\.s=ed header\.a=ed25519-sha256 .*dmarc=pass/);
    h.queued.pop();

    // A signed header changed: the signature fails, and with it DMARC (SPF is not aligned).
    const tampered = signed.replace('Subject: test', 'Subject: tset');
    assert.match(await send(h, 'a@signer.example', 'u@mx.test.example', tampered), /^250 /);
    assert.match(results(h.queued[1])[0], /dkim=fail .*header\.i=@signer\.example/);
    assert.match(results(h.queued[1])[0], /dmarc=fail/);
    // A changed body: mailauth reports the body hash mismatch as dkim=neutral; never a pass.
    assert.match(await send(h, 'a@signer.example', 'u@mx.test.example', signed.replace('body\r\n', 'changed body\r\n')), /^250 /);
    assert.match(results(h.queued[2])[0], /dkim=neutral \(body hash did not verify\)/);
    assert.match(results(h.queued[2])[0], /dmarc=fail/);
  } finally {
    await h.stop();
  }
});

test('reject_dmarc_policy: p=reject is refused 550 5.7.1 at the end of DATA; p=quarantine goes on hold, or is accepted with dmarc_quarantine_action = accept; a DNS failure of an aligned identifier defers 451 4.7.1', async () => {
  const h = await start({ smtpd_end_of_data_restrictions: 'reject_dmarc_policy' });
  try {
    const reply = await send(h, 's@pass.example', 'u@mx.test.example', BODY('Boss <ceo@reject.example>'));
    assert.equal(reply, '550 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: rejected by DMARC policy of reject.example');
    await until(() => logLines.some((l) => /: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 550 5\.7\.1 <END-OF-MESSAGE>: End-of-data rejected: rejected by DMARC policy of reject\.example; from=<s@pass\.example> to=<u@mx\.test\.example>/.test(l)));
    assert.equal(h.queued.length, 0);

    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', BODY('ceo@quarantine.example')), /^250 /);
    assert.equal(h.queued[0].hold, true);
    assert.match(results(h.queued[0])[0], /dmarc=fail .*header\.from=quarantine\.example/);
    await until(() => logLines.some((l) => /: hold: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: <END-OF-MESSAGE>: End-of-data triggers HOLD action: DMARC policy of quarantine\.example is quarantine; from=<s@pass\.example>/.test(l)));

    // Aligned SPF passes DMARC: nothing happens.
    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', BODY('s@pass.example')), /^250 /);
    assert.equal(h.queued[1].hold, undefined);

    // The aligned DKIM signature could not be checked (its key lookup failed): the verdict is
    // not known, and the sender is asked to retry rather than refused for good.
    assert.equal(
      await send(h, 's@pass.example', 'u@mx.test.example', await signedDuringDnsFailure()),
      '451 4.7.1 <END-OF-MESSAGE>: End-of-data rejected: DMARC policy of dnsfail.example: temporary error - try again later',
    );
    assert.equal(h.queued.length, 2);
  } finally {
    await h.stop();
  }
  const accept = await start({ smtpd_end_of_data_restrictions: 'reject_dmarc_policy', dmarc_quarantine_action: 'accept' });
  try {
    assert.match(await send(accept, 's@pass.example', 'u@mx.test.example', BODY('ceo@quarantine.example')), /^250 /);
    assert.equal(accept.queued[0].hold, undefined);
  } finally {
    await accept.stop();
  }
});

/** mailauth's verdict at another host, asking the test's DNS server, on mail from `ip`. */
async function authenticateAt(message: Buffer, mta: string, ip: string, seal?: { signingDomain: string; selector: string; privateKey: string }): ReturnType<typeof authenticate> {
  const { promises } = await import('node:dns');
  const resolver = new promises.Resolver();
  resolver.setServers([`${dns.address}:${dns.port}`]);
  return authenticate(message, { ip, helo: 'mail.test.example', sender: 's@pass.example', mta, resolver: ((name: string, type: string) => resolver.resolve(name, type as 'TXT')) as never, disableBimi: true, ...(seal ? { seal } : {}) });
}

/** The ARC header fields of instance `i`, unfolded, by name. */
function arcSet(message: Buffer, i: number): Record<string, string> {
  const head = message.subarray(0, message.indexOf('\r\n\r\n')).toString().replace(/\r\n[ \t]+/g, ' ');
  const out: Record<string, string> = {};
  for (const m of head.matchAll(/^(ARC-Seal|ARC-Message-Signature|ARC-Authentication-Results): ?(.*)$/gm)) {
    if (new RegExp(`^i=${i}\\s*;`).test(m[2])) out[m[1]] = m[2];
  }
  return out;
}

test('mail for a domain in arc_signing_table is ARC-sealed after verifying: i=1 on mail without a chain, i=2 with cv=pass on a valid chain, i=2 with cv=fail on a broken one, and none after a cv=fail seal; mailauth validates each', async () => {
  const h = await start({ arc_key_table: 'texthash:arc-keys', arc_signing_table: 'texthash:arc-signing' });
  try {
    assert.match(await send(h, 's@pass.example', 'list@lists.test.example', BODY('s@pass.example')), /^250 /);
    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', BODY('s@pass.example')), /^250 /);
    const sealed = Buffer.from(h.queued[0].content);
    const text = sealed.toString().replace(/\r\n[ \t]+/g, ' ');
    assert.match(text, /^ARC-Seal: i=1; a=ed25519-sha256; .*cv=none; d=mx\.test\.example; s=arc;/m);
    assert.match(text, /^ARC-Authentication-Results: i=1; mx\.test\.example; .*spf=pass/m);
    assert.doesNotMatch(Buffer.from(h.queued[1].content).toString(), /ARC-Seal/, 'a recipient the table does not list: no seal');
    // The next hop: mailauth, with the same DNS, finds the chain valid.
    const next = await authenticateAt(sealed, 'next.example', '192.0.2.1');
    assert.ok(next.arc);
    assert.equal(next.arc.status.result, 'pass', JSON.stringify(next.arc.status));

    // A first forwarder (mailauth, its key in the test's DNS) verified the mail and sealed i=1;
    // Postrider, the second, finds that chain valid and adds i=2 with cv=pass over it.
    const original = Buffer.from(BODY('s@pass.example'));
    const first = await authenticateAt(original, 'forwarder.example', '127.0.0.1', { signingDomain: 'forwarder.example', selector: 'fwd', privateKey: forwarder.pem });
    const forwarded = Buffer.concat([Buffer.from(first.headers), original]);
    assert.match(arcSet(forwarded, 1)['ARC-Seal'] ?? '', /cv=none; d=forwarder\.example; s=fwd;/, first.headers);
    assert.match(await send(h, 's@pass.example', 'list@lists.test.example', forwarded.toString()), /^250 /);
    const twice = Buffer.from(h.queued[2].content);
    assert.match(results(h.queued[2])[0], /arc=pass \(i=1 /, 'this host found the incoming chain valid');
    const two = arcSet(twice, 2);
    assert.match(two['ARC-Seal'] ?? '', /^i=2; a=ed25519-sha256; .*cv=pass; d=mx\.test\.example; s=arc;/, twice.toString());
    assert.match(two['ARC-Message-Signature'] ?? '', /^i=2; a=ed25519-sha256; .*d=mx\.test\.example;.* s=arc;/);
    assert.match(two['ARC-Authentication-Results'] ?? '', /^i=2; mx\.test\.example; .*arc=pass \(i=1 .*spf=pass/);
    assert.equal(arcSet(twice, 1)['ARC-Seal'], arcSet(forwarded, 1)['ARC-Seal'], 'the first set is passed on unchanged');
    const third = await authenticateAt(twice, 'next.example', '192.0.2.1');
    assert.ok(third.arc);
    assert.equal(third.arc.status.result, 'pass', JSON.stringify(third.arc.status));
    assert.equal(third.arc.i, 2);

    // Changed after the first seal (a header its ARC-Message-Signature covers): the chain fails
    // here, and RFC 8617 section 5.1.2 has it sealed with cv=fail, which ends the chain.
    const tampered = forwarded.toString().replace('Subject: test', 'Subject: tset');
    assert.match(await send(h, 's@pass.example', 'list@lists.test.example', tampered), /^250 /);
    const broken = Buffer.from(h.queued[3].content);
    assert.match(results(h.queued[3])[0], /arc=fail/);
    assert.match(arcSet(broken, 2)['ARC-Seal'] ?? '', /^i=2; a=ed25519-sha256; .*cv=fail; d=mx\.test\.example; s=arc;/, broken.toString());
    assert.match(arcSet(broken, 2)['ARC-Authentication-Results'] ?? '', /^i=2; mx\.test\.example; .*arc=fail/);
    const after = await authenticateAt(broken, 'next.example', '192.0.2.1');
    assert.ok(after.arc);
    assert.equal(after.arc.status.result, 'fail', JSON.stringify(after.arc.status));
    // Coming back with that cv=fail seal on top, the chain has ended: no i=3, and no warning.
    assert.match(await send(h, 's@pass.example', 'list@lists.test.example', broken.toString()), /^250 /);
    const ended = Buffer.from(h.queued[4].content);
    assert.deepEqual(arcSet(ended, 3), {});
    assert.equal(ended.toString().match(/^ARC-Seal:/gm)?.length, 2);
    assert.match(results(h.queued[4])[0], /arc=fail/);
    await until(() => logLines.some((l) => l.endsWith(`${h.queued[4].queueId}: no ARC set added: The newest ARC-Seal (i=2) has cv=fail, the chain can not be sealed again`)));
    assert.ok(!logLines.some((l) => l.includes('warning:') && l.includes('ARC seal')), logLines.filter((l) => l.includes('ARC')).join('\n'));
  } finally {
    await h.stop();
  }
});

test('DNS answers come from dns_resolver_servers and are kept: a second message asks nothing again; a DNS failure is temperror, for DKIM and for the DMARC verdict it leaves unknown', async () => {
  const h = await start({});
  try {
    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', await signedDuringDnsFailure()), /^250 /);
    const failed = results(h.queued.shift()!)[0];
    assert.match(failed, /dkim=temperror \(DNS failure: ESERVFAIL\) header\.i=@dnsfail\.example/);
    assert.match(failed, /dmarc=temperror .*header\.from=dnsfail\.example/);
    // Not kept: the next message asks again.
    const askedKey = dns.queries.filter((q) => q === 'sel._domainkey.dnsfail.example TXT').length;
    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', await signedDuringDnsFailure()), /^250 /);
    h.queued.shift();
    assert.ok(dns.queries.filter((q) => q === 'sel._domainkey.dnsfail.example TXT').length > askedKey);

    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', BODY('s@pass.example')), /^250 /);
    const asked = dns.queries.filter((q) => q === 'pass.example TXT' || q === '_dmarc.pass.example TXT').length;
    assert.ok(asked >= 2, dns.queries.join('\n'));
    assert.match(await send(h, 's@pass.example', 'u@mx.test.example', BODY('s@pass.example')), /^250 /);
    assert.equal(dns.queries.filter((q) => q === 'pass.example TXT' || q === '_dmarc.pass.example TXT').length, asked);
  } finally {
    await h.stop();
  }
});
