/**
 * sts-test-ca: a test certificate authority made with openssl, and leaf
 * certificates it signs for given DNS names (and any expiry), in a
 * temporary directory; for the MTA-STS policy host, the TLSRPT endpoint and
 * the MX hosts of the MTA-STS tests, which need a CA the client trusts
 * through a file and names other than localhost.
 *
 *   const ca = makeTestCa();
 *   const leaf = ca.issue(['mta-sts.a.test', 'mx1.a.test']);
 *   https.createServer({ cert: leaf.cert, key: leaf.key }); smtp_mta_sts_CAfile = ca.certFile
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCert } from './tls-cert.js';

export interface TestCa {
  certFile: string;
  cert: Buffer;
  /** A leaf for `names` (the first is the subject's CN), valid for two days. */
  issue(names: string[]): TestCert;
}

let serial = 1;

/** Makes a fresh CA. */
export function makeTestCa(name = 'Postrider Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-ca-'));
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return {
    certFile,
    cert: readFileSync(certFile),
    issue(names) {
      const n = serial++;
      const leafKey = join(dir, `leaf${n}-key.pem`);
      const csr = join(dir, `leaf${n}.csr`);
      const leafCert = join(dir, `leaf${n}.pem`);
      const ext = join(dir, `leaf${n}.ext`);
      writeFileSync(ext, `subjectAltName=${names.map((d) => `DNS:${d}`).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', leafKey, '-out', csr], { stdio: 'ignore' });
      execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', certFile, '-CAkey', keyFile, '-set_serial', String(1000 + n + Math.floor(Math.random() * 1e6)),
        '-days', '2', '-extfile', ext, '-out', leafCert], { stdio: 'ignore' });
      return { certFile: leafCert, keyFile: leafKey, cert: readFileSync(leafCert), key: readFileSync(leafKey) };
    },
  };
}
