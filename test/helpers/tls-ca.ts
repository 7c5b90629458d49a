/**
 * tls-ca: a test certification authority made with openssl(1), and server
 * certificates it signs, in a temporary directory. A leaf's `cert` (and
 * `certFile`) holds the leaf followed by the CA certificate, the chain a
 * server presents (DANE-TA needs the trust anchor in it); `leaf` is the leaf
 * alone. makeTestCa() throws when openssl fails.
 *
 *   const ca = makeTestCa('Test CA');
 *   const good = ca.issue(['mx1.example.com']);      // SAN DNS names
 *   sink: startSmtpSink({ starttls: true, cert: good })
 *   client: smtp_tls_CAfile = ca.certFile
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCert } from './tls-cert.js';

/** A certificate issued by a test CA: the chain (leaf + CA) in cert/certFile, the leaf alone in leaf. */
export interface IssuedCert extends TestCert {
  leaf: Buffer;
}

export interface TestCa {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  /** A server certificate for `names` (DNS names; IP addresses become IP SANs); the first is the CN. */
  issue(names: string[], opts?: { days?: number }): IssuedCert;
}

let serial = 1;

/** A fresh CA (RSA 2048, valid two days) named `name`. */
export function makeTestCa(name = 'Postrider Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-ca-'));
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  const cert = readFileSync(certFile);
  return {
    certFile,
    keyFile,
    cert,
    issue(names, opts = {}) {
      const n = serial++;
      const leafKey = join(dir, `leaf${n}-key.pem`);
      const csr = join(dir, `leaf${n}.csr`);
      const leafFile = join(dir, `leaf${n}.pem`);
      const ext = join(dir, `leaf${n}.ext`);
      const san = names.map((x) => (/^[\d.]+$|:/.test(x) ? `IP:${x}` : `DNS:${x}`)).join(',');
      writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', leafKey, '-out', csr], { stdio: 'ignore' });
      execFileSync('openssl', [
        'x509', '-req', '-in', csr, '-CA', certFile, '-CAkey', keyFile, '-set_serial', String(1000 + n),
        '-days', String(opts.days ?? 2), '-extfile', ext, '-out', leafFile,
      ], { stdio: 'ignore' });
      const leaf = readFileSync(leafFile);
      const chain = Buffer.concat([leaf, cert]);
      const chainFile = join(dir, `chain${n}.pem`);
      writeFileSync(chainFile, chain);
      return { certFile: chainFile, keyFile: leafKey, cert: chain, key: readFileSync(leafKey), leaf };
    },
  };
}
