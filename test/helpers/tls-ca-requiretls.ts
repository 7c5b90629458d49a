/**
 * tls-ca-requiretls: a test certificate authority and leaf certificates it
 * signs (made with openssl in a temporary directory), for tests that need a
 * chain a client can verify against a CA file: makeTestCa(), then
 * ca.leaf(names) for a certificate whose subjectAltName lists the DNS names
 * and IP addresses given. Throws when openssl fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCert } from './tls-cert.js';

export interface TestCa {
  /** The CA certificate (PEM), for smtp_tls_CAfile. */
  certFile: string;
  cert: Buffer;
  /** A leaf for these names (DNS names and IP addresses), signed by this CA. */
  leaf(names: string[]): TestCert;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

export function makeTestCa(name = 'Postrider Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-ca-'));
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  openssl([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', keyFile, '-out', certFile,
  ]);
  let serial = 0;
  return {
    certFile,
    cert: readFileSync(certFile),
    leaf(names: string[]): TestCert {
      serial++;
      const base = join(dir, `leaf${serial}`);
      const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(`${base}.ext`, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', `${base}-key.pem`, '-out', `${base}.csr`]);
      openssl([
        'x509', '-req', '-in', `${base}.csr`, '-CA', certFile, '-CAkey', keyFile, '-set_serial', String(1000 + serial),
        '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.pem`,
      ]);
      return { certFile: `${base}.pem`, keyFile: `${base}-key.pem`, cert: readFileSync(`${base}.pem`), key: readFileSync(`${base}-key.pem`) };
    },
  };
}
