/** Tests of checkTransports: every transport mail can be routed to names a master.cf service that runs a delivery agent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { checkConfig } from '../../src/config/check-config.js';
import { checkTransports } from '../../src/config/check-transports.js';
import { confDir } from './conf-dir.js';
import { configDir, postrider } from '../cli/cli-harness.js';

const MASTER = [
  'qmgr      unix  n       -       n       300     1       qmgr',
  'rewrite   unix  -       -       n       -       1       trivial-rewrite',
  'bounce    unix  -       -       n       -       1       bounce',
  'smtp      unix  -       -       n       -       -       smtp',
  'relay     unix  -       -       n       -       -       smtp',
  'error     unix  -       -       n       -       -       error',
  'local     unix  -       n       n       -       -       local',
  '',
].join('\n');

function problems(main: string, master = MASTER): string[] {
  const dir = confDir(main, master);
  try {
    return checkTransports(loadConfig(dir)).map((p) => `${p.severity} ${p.line} ${p.message}`);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test('a default_transport that names no service is an error at its main.cf line', () => {
  assert.deepEqual(problems('myhostname = a.example\ndefault_transport = slow:[127.0.0.1]:2525\n'), [
    'error 2 default_transport = slow:[127.0.0.1]:2525: transport slow names no master.cf service; its mail would wait in the queue (mail transport unavailable)',
  ]);
});

test('a custom transport with its own service passes; so do the stock names', () => {
  assert.deepEqual(problems('default_transport = slow:[127.0.0.1]:2525\n', `${MASTER}slow unix - - n - 1 smtp\n  -o smtp_helo_name=slow.example\n`), []);
  assert.deepEqual(problems('relay_domains = relay.example\n'), []);
});

test('a transport naming a service that is no delivery agent is an error', () => {
  const [p] = problems('default_transport = bounce\n');
  assert.match(p, /^error 1 default_transport = bounce: transport bounce names the master\.cf service bounce, which runs bounce, not a delivery agent \(smtp, virtual, local, discard, error\)$/);
});

test('relay, virtual and local transports count only where their domains send mail', () => {
  // No relay_domains and no virtual_mailbox_domains: nothing is routed there.
  assert.deepEqual(problems('relay_transport = nowhere\nvirtual_transport = nowhere\n'), []);
  const p = problems('relay_domains = r.example\nrelay_transport = nowhere\nvirtual_mailbox_domains = v.example\nlocal_transport = lmtp:unix:/x\n');
  assert.equal(p.length, 3, p.join('\n'));
  assert.match(p[0], /^error 2 relay_transport = nowhere: transport nowhere names no master\.cf service/);
  assert.match(p[1], /^error 0 virtual_transport = virtual: transport virtual names no master\.cf service/);
  assert.match(p[2], /^error 4 local_transport = lmtp:unix:\/x: transport lmtp names no master\.cf service/);
});

test('fixed transport_maps results are checked; a pattern table is left to qmgr', () => {
  const dir = confDir('transport_maps = inline:{ a.example=smtp:[192.0.2.1], b.example=slow:, c.example=:[192.0.2.3] }, static:relay, regexp:patterns\n', MASTER);
  try {
    writeFileSync(join(dir, 'patterns'), '/x/ whatever:\n');
    const p = checkTransports(loadConfig(dir));
    assert.deepEqual(p.map((x) => x.message), ['transport_maps: inline:{ a.example=smtp:[192.0.2.1], b.example=slow:, c.example=:[192.0.2.3] } gives "slow:": transport slow names no master.cf service; its mail would wait in the queue (mail transport unavailable)']);
    assert.equal(p[0].line, 1);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("trivial-rewrite's own -o values are checked at its service line", () => {
  const p = problems('', MASTER.replace('rewrite   unix  -       -       n       -       1       trivial-rewrite', 'rewrite unix - - n - 1 trivial-rewrite\n  -o default_transport=nowhere'));
  assert.equal(p.length, 1, p.join('\n'));
  assert.match(p[0], /^error 2 service rewrite: default_transport = nowhere: transport nowhere names no master\.cf service/);
});

test('without a qmgr nothing is delivered, and nothing is checked', () => {
  assert.deepEqual(problems('default_transport = nowhere\n', 'cleanup unix n - n - 0 cleanup\n'), []);
});

test('checkConfig includes the transport problems', () => {
  const dir = confDir('default_transport = nowhere\n', MASTER);
  try {
    assert.ok(checkConfig(loadConfig(dir)).some((p) => p.severity === 'error' && /transport nowhere names no master\.cf service/.test(p.message)));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('postrider check names the transport with no service and exits 1', async () => {
  const c = configDir('default_transport = slow:[127.0.0.1]:2525\n', MASTER);
  try {
    const r = await postrider(['-c', c.dir, 'check']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^postrider: error: .*main\.cf, line 3: default_transport = slow:\[127\.0\.0\.1\]:2525: transport slow names no master\.cf service/m);
  } finally {
    c.cleanup();
  }
});

test('content_filter names a delivery service, in main.cf and in an smtpd service\'s -o values; an empty -o content_filter= passes', () => {
  assert.deepEqual(
    problems(
      'content_filter = scan:[127.0.0.1]:10025\n',
      `${MASTER}127.0.0.1:10026 inet n - n - - smtpd\n  -o content_filter=\n127.0.0.1:10027 inet n - n - - smtpd\n  -o content_filter=amavis:[127.0.0.1]:10024\n`,
    ),
    [
      'error 1 content_filter = scan:[127.0.0.1]:10025: transport scan names no master.cf service; its mail would wait in the queue (mail transport unavailable)',
      'error 10 service 127.0.0.1:10027: content_filter = amavis:[127.0.0.1]:10024: transport amavis names no master.cf service; its mail would wait in the queue (mail transport unavailable)',
    ],
  );
  assert.deepEqual(problems('content_filter = scan:[127.0.0.1]:10025\n', `${MASTER}scan unix - - n - 2 smtp\n`), []);
});
