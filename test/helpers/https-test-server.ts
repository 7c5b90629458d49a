/**
 * https-test-server: a real HTTPS server on port 443 of a loopback address
 * of its own (127.x.y.z, picked at random so that tests running at once do
 * not meet; tests run as root), for the MTA-STS policy host and TLSRPT
 * report endpoints. Each request is recorded (host, method, path, headers,
 * body) and answered by the test's handler, or 404.
 *
 *   const web = await startHttpsServer(cert, (req) => ({ status: 200, type: 'text/plain', body: 'version: STSv1\n...' }));
 *   zone: 'mta-sts.a.test': { A: [web.address] }
 *   web.requests.filter((r) => r.host === 'mta-sts.a.test').length
 */
import { createServer, type Server } from 'node:https';
import type { TestCert } from './tls-cert.js';

export interface RecordedRequest {
  host: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface HttpsAnswer {
  status: number;
  type?: string;
  body?: string | Buffer;
  /** Never answer (for timeouts). */
  hang?: boolean;
}

export interface TestHttpsServer {
  address: string;
  requests: RecordedRequest[];
  /** Replaced by tests between requests. */
  handler: (req: RecordedRequest) => HttpsAnswer;
  close(): Promise<void>;
}

/** A random loopback address outside 127.0.0.x. */
export function randomLoopback(): string {
  const b = () => 1 + Math.floor(Math.random() * 250);
  return `127.${100 + Math.floor(Math.random() * 150)}.${b()}.${b()}`;
}

export async function startHttpsServer(cert: TestCert, handler: TestHttpsServer['handler']): Promise<TestHttpsServer> {
  const requests: RecordedRequest[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const state: TestHttpsServer = { address: '', requests, handler, close: async () => undefined };
  const server: Server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = {
        host: String(req.headers.host ?? '').replace(/:\d+$/, ''),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(rec);
      const a = state.handler(rec);
      if (a.hang) {
        hanging.add(res);
        return;
      }
      res.writeHead(a.status, a.type ? { 'content-type': a.type } : {});
      res.end(a.body ?? '');
    });
  });
  for (let tries = 0; ; tries++) {
    const address = randomLoopback();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(443, address, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
      state.address = address;
      break;
    } catch (err) {
      if (tries > 20) throw err;
    }
  }
  state.close = () => new Promise<void>((resolve) => {
    for (const r of hanging) r.destroy();
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return state;
}
