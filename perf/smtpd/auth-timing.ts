/**
 * auth-timing: how long a failed AUTH PLAIN takes for a user the table has
 * (wrong secret) and for one it does not, over real sockets against one
 * Smtpd. With the dummy hash both run one scrypt derivation, so the two
 * medians should be within noise of each other; before it, the unknown
 * user was answered at once and the difference showed which users exist.
 * AUTH_PERF_ROUNDS (default 40) attempts of each kind, interleaved, one
 * connection each (so the error tarpit never starts).
 */
import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MainConfig } from '../../src/config/main-config.js';
import { configureLogging, Logger } from '../../src/util/log.js';
import { Smtpd } from '../../src/actors/smtpd/smtpd.js';
import { saslAddUser } from '../../src/global/sasl-passwd.js';

const ROUNDS = Number(process.env.AUTH_PERF_ROUNDS ?? 40);

/** One session: greeting, EHLO, then the time from sending AUTH to its reply. */
function attempt(port: number, user: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buf = '';
    let stage = 0;
    let started = 0;
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!/\d{3} [^\n]*\n$/.test(buf)) return;
      buf = '';
      if (stage === 0) socket.write('EHLO perf.example\r\n');
      else if (stage === 1) {
        started = performance.now();
        socket.write(`AUTH PLAIN ${Buffer.from(`\0${user}\0wrong secret`).toString('base64')}\r\n`);
      } else {
        const ms = performance.now() - started;
        socket.destroy();
        resolve(ms);
      }
      stage++;
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
  const dir = mkdtempSync(join(tmpdir(), 'auth-perf-'));
  saslAddUser(join(dir, 'sasl_passwd'), 'alice@perf.example', 'the real secret');
  const smtpd = new Smtpd({
    config: new MainConfig(
      {
        myhostname: 'mx.perf.example',
        mynetworks: '192.0.2.0/24',
        smtpd_greet_wait: '0s',
        smtpd_sasl_auth_enable: 'yes',
        smtpd_tls_auth_only: 'no',
        smtpd_sasl_password_maps: 'texthash:sasl_passwd',
        smtpd_error_sleep_time: '0s',
      },
      dir,
    ),
    service: { name: '127.0.0.1:0', type: 'inet', private: false, unpriv: true, chroot: false, wakeup: '-', maxproc: null, command: 'smtpd', args: [], overrides: {}, file: 'master.cf', line: 1 },
    log: new Logger('smtpd', 0),
    idSalt: 0,
    submit: async (s) => ({ ok: true, queueId: s.queueId }),
  });
  const { port } = await smtpd.listen();
  const known: number[] = [];
  const unknown: number[] = [];
  await attempt(port, 'warm-up@perf.example');
  for (let i = 0; i < ROUNDS; i++) {
    known.push(await attempt(port, 'alice@perf.example'));
    unknown.push(await attempt(port, `nobody${i}@perf.example`));
  }
  await smtpd.close();
  const fmt = (xs: number[]): string => `median ${median(xs).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
  console.log(`failed AUTH PLAIN, ${ROUNDS} attempts each, one per connection (scrypt N=16384 r=8 p=1)`);
  console.log(`  existing user, wrong secret: ${fmt(known)}`);
  console.log(`  unknown user:                ${fmt(unknown)}`);
  console.log(`  difference of the medians:   ${(median(unknown) - median(known)).toFixed(1)} ms`);
}

await main();
