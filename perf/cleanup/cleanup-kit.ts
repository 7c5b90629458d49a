/**
 * cleanup-kit: what the cleanup benchmarks share: a message as smtpd hands
 * it over, and a Cleanup on a configuration (with the real trivial-rewrite
 * as its rewrite service).
 */
import { Cleanup } from '../../src/cleanup/cleanup.js';
import type { CleanupInput } from '../../src/cleanup/cleanup-types.js';
import { TrivialRewrite } from '../../src/actors/trivial-rewrite/trivial-rewrite.js';
import { MainConfig } from '../../src/config/main-config.js';
import { Logger } from '../../src/util/log.js';

/** The i-th message of a run: one sender, one recipient, from a remote client. */
export function benchInput(content: Buffer, i: number): CleanupInput {
  return {
    queueId: `4ZxYqT1B${i}`,
    arrivalTime: Date.now(),
    sender: 'alice@sender.example',
    recipients: [{ address: 'bob@rcpt.example' }],
    client: { name: 'mail.sender.example', addr: '192.0.2.10', helo: 'mail.sender.example', protocol: 'ESMTP' },
    content,
    local: false,
    heloName: 'mail.sender.example',
  };
}

/** A Cleanup with `params` over a small base configuration, files relative to `dir`. */
export function benchCleanup(dir: string, params: Record<string, string>): Cleanup {
  const config = new MainConfig({ myhostname: 'mx.example.net', mydestination: 'mx.example.net', inet_interfaces: 'loopback-only', ...params }, dir);
  const tr = new TrivialRewrite(config);
  return new Cleanup({ config, log: new Logger('cleanup', 'bench'), instance: 0, rewrite: async (a, r) => tr.rewrite(a, r) });
}
