/**
 * OpenDKIM as a signing milter (smtpd_milters): the message that reaches the
 * sink carries a DKIM-Signature that an independent verifier (python3-dkim's
 * dkim.verify, given the test's public key instead of DNS) accepts. Keys are
 * made by opendkim-genkey in a temporary directory; OpenDKIM runs in the
 * foreground on a unix socket.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { SYSTEM_PYTHON } from '../helpers/test-milter.js';

const OPENDKIM = '/usr/sbin/opendkim';
const GENKEY = '/usr/sbin/opendkim-genkey';
const skip = !existsSync(OPENDKIM) || !existsSync(GENKEY)
  ? 'opendkim is not installed (.ci/run installs opendkim and opendkim-tools)'
  : !existsSync('/usr/lib/python3/dist-packages/dkim/__init__.py')
    ? 'python3-dkim is not installed (.ci/run installs it)'
    : undefined;

let dir: string;
let opendkim: ChildProcess | undefined;
let sink: SmtpSink;
let daemon: RunningDaemon;
let publicKey: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'postrider-opendkim-'));
  execFileSync(GENKEY, ['-D', dir, '-d', 'example.test', '-s', 'sel']);
  // The TXT record's quoted strings, joined: the value a DNS lookup would give.
  publicKey = [...readFileSync(join(dir, 'sel.txt'), 'utf8').matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  const socket = join(dir, 'opendkim.sock');
  writeFileSync(
    join(dir, 'opendkim.conf'),
    [
      'Mode s',
      'Domain example.test',
      'Selector sel',
      `KeyFile ${join(dir, 'sel.private')}`,
      `Socket local:${socket}`,
      'Syslog no',
      'Background no',
      'RequireSafeKeys false',
      'Canonicalization relaxed/simple',
      'InternalHosts 127.0.0.1',
    ].join('\n') + '\n',
  );
  opendkim = spawn(OPENDKIM, ['-f', '-x', join(dir, 'opendkim.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(() => existsSync(socket), 15_000, 'the OpenDKIM socket');
  sink = await startSmtpSink();
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, smtpd_milters: `unix:${socket}` } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
  if (opendkim && opendkim.exitCode === null) {
    const gone = new Promise<void>((r) => opendkim!.once('exit', () => r()));
    opendkim.kill('SIGTERM');
    await gone;
  }
});

test('OpenDKIM signs through smtpd_milters: the message at the sink carries a DKIM-Signature that python3-dkim verifies with the test key', { skip }, async () => {
  const raw =
    'From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject: signed by OpenDKIM\r\nDate: Sat, 05 Dec 2026 05:00:00 +0000\r\nMessage-ID: <dkim.1@example.test>\r\n\r\n' +
    'A body that the signature covers.\r\n.A line that starts with a dot.\r\n';
  const r = await sendMail(daemon.port, { from: 'alice@example.test', to: ['bob@remote.test'], raw });
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('bob@remote.test')), 20_000, 'the signed message');
  const got = sink.messages.find((m) => m.rcptTo.includes('bob@remote.test'))!.raw;
  const text = got.toString('utf8');
  assert.match(text, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/simple; d=example\.test;/m, 'OpenDKIM added its signature');
  const file = join(dir, 'signed.eml');
  writeFileSync(file, got);
  const script = [
    'import sys, dkim',
    'msg = open(sys.argv[1], "rb").read()',
    'key = sys.argv[2].encode()',
    'def dns(name, timeout=5):',
    '    return key if name.rstrip(b".") == b"sel._domainkey.example.test" else None',
    'print("verified" if dkim.verify(msg, dnsfunc=dns) else "FAILED")',
  ].join('\n');
  const out = execFileSync(SYSTEM_PYTHON, ['-c', script, file, publicKey], { encoding: 'utf8' }).trim();
  assert.equal(out, 'verified');
  // The verifier is not lenient: one changed body byte fails it.
  writeFileSync(file, Buffer.from(text.replace('covers.', 'covers!'), 'utf8'));
  assert.equal(execFileSync(SYSTEM_PYTHON, ['-c', script, file, publicKey], { encoding: 'utf8' }).trim(), 'FAILED');
});
