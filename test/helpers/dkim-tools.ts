/**
 * dkim-tools: DKIM keys and the independent verifier and signer the
 * authentication tests use: Debian's python3-dkim (dkimpy), run with
 * /usr/bin/python3, the interpreter that has the module. `dkimpySkip` is
 * the skip reason when it is missing (undefined when present).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';

const PYTHON = '/usr/bin/python3';

/** Why the python3-dkim tests cannot run here, or undefined. */
export const dkimpySkip: string | undefined =
  spawnSync(PYTHON, ['-c', 'import dkim, nacl'], { stdio: 'ignore' }).status === 0 ? undefined : 'python3-dkim (with python3-nacl) is not installed (.ci/run installs it)';

/** A key pair: the private key in PEM (PKCS#8) and the DNS TXT record that publishes it. */
export interface TestKey {
  pem: string;
  record: string;
  /** dkimpy's form of the private key: PEM for RSA, the base64 seed for Ed25519. */
  dkimpyKey: string;
}

export function rsaKey(bits = 2048): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const p = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  return { pem, record: `v=DKIM1; k=rsa; p=${p}`, dkimpyKey: privateKey.export({ format: 'pem', type: 'pkcs1' }).toString() };
}

export function ed25519Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  // RFC 8463: p= is the raw 32-byte public key; the PKCS#8 and SPKI forms end with the raw bytes.
  const p = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
  return { pem, record: `v=DKIM1; k=ed25519; p=${p}`, dkimpyKey: seed };
}

/** dkimpy's verdict on signature number `index` of a message, with `records` (name -> TXT) as its DNS. */
export function dkimpyVerify(message: Buffer, records: Record<string, string>, index = 0): boolean {
  const script = [
    'import dkim, json, sys',
    'records = json.loads(sys.argv[1])',
    'def dnsfunc(name, timeout=5):',
    '    n = name.decode() if isinstance(name, bytes) else name',
    '    return records.get(n.rstrip(".").lower(), "").encode()',
    'd = dkim.DKIM(sys.stdin.buffer.read())',
    'try:',
    '    ok = d.verify(idx=int(sys.argv[2]), dnsfunc=dnsfunc)',
    'except dkim.ValidationError:',
    '    ok = False',
    'print("pass" if ok else "fail")',
  ].join('\n');
  const out = execFileSync(PYTHON, ['-c', script, JSON.stringify(records), String(index)], { input: message }).toString().trim();
  return out === 'pass';
}

/** A DKIM-Signature made by dkimpy for the message, RSA or Ed25519 (the header line(s) to prepend, CRLF-ended). */
export function dkimpySign(message: Buffer, domain: string, selector: string, key: TestKey, headers = ['from', 'to', 'subject', 'date'], algorithm: 'rsa-sha256' | 'ed25519-sha256' = 'rsa-sha256'): string {
  const script = [
    'import dkim, json, sys',
    'a = json.loads(sys.argv[1])',
    'sig = dkim.sign(sys.stdin.buffer.read(), a["s"].encode(), a["d"].encode(), a["k"].encode(), include_headers=[h.encode() for h in a["h"]], linesep=b"\\r\\n", signature_algorithm=a["a"].encode())',
    'sys.stdout.buffer.write(sig)',
  ].join('\n');
  return execFileSync(PYTHON, ['-c', script, JSON.stringify({ s: selector, d: domain, k: key.dkimpyKey, h: headers, a: algorithm })], { input: message }).toString();
}
