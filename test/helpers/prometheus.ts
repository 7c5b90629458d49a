/** prometheus: GET over HTTP, and the samples of Prometheus exposition text by name and labels. */
import assert from 'node:assert/strict';
import { request } from 'node:http';

export function httpGet(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Samples of the exposition text: name -> [{ labels, value }]. */
export type Samples = Map<string, Array<{ labels: Record<string, string>; value: number }>>;

export function parseExposition(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a well-formed sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    const list = out.get(m[1]) ?? [];
    list.push({ labels, value: Number(m[3]) });
    out.set(m[1], list);
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `want`. */
export function sampleSum(s: Samples, name: string, want: Record<string, string> = {}): number {
  let sum = 0;
  for (const x of s.get(name) ?? []) if (Object.entries(want).every(([k, v]) => x.labels[k] === v)) sum += x.value;
  return sum;
}
