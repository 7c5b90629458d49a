/**
 * cleanup-fixture: builds a Cleanup over a test configuration, with
 * trivial-rewrite answering rewrites in-process and log lines captured.
 */
import { MainConfig } from '../../src/config/main-config.js';
import { Cleanup } from '../../src/cleanup/cleanup.js';
import assert from 'node:assert/strict';
import type { CleanupInput, CleanupResult } from '../../src/cleanup/cleanup-types.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { TrivialRewrite } from '../../src/actors/trivial-rewrite/trivial-rewrite.js';
import { configureLogging, Logger } from '../../src/util/log.js';

/** Log lines written since the fixture was made. */
export const logLines: string[] = [];

configureLogging({
  myhostname: 'mx.example.net',
  sink: { write: (line) => void logLines.push(line), flush: () => {}, reopen: () => {} },
});

export function makeCleanup(params: Record<string, string>, dir: string): Cleanup {
  const config = new MainConfig(
    {
      myhostname: 'mx.example.net',
      mydomain: 'example.net',
      myorigin: 'example.net',
      mydestination: 'mx.example.net, localhost',
      inet_interfaces: 'loopback-only',
      local_header_rewrite_clients: 'permit_inet_interfaces',
      ...params,
    },
    dir,
  );
  const tr = new TrivialRewrite(config);
  return new Cleanup({
    config,
    log: new Logger('cleanup', 1),
    instance: 1,
    rewrite: async (address, role) => tr.rewrite(address, role),
    rewriteHeader: async (address, role, context) => tr.rewriteHeader(address, role, context),
  });
}

/** A network submission from 192.0.2.10 (not one of this host's addresses). */
export function smtpInput(content: string | Uint8Array, extra: Partial<CleanupInput> = {}): CleanupInput {
  return {
    queueId: '4ZxYqT1abcDEF',
    arrivalTime: Date.UTC(2026, 10, 28, 20, 31, 7),
    sender: 'alice@sender.example',
    recipients: [{ address: 'bob@rcpt.example' }],
    client: { name: 'mail.sender.example', addr: '192.0.2.10', helo: 'mail.sender.example', protocol: 'ESMTP' },
    content: typeof content === 'string' ? Buffer.from(content, 'utf8') : content,
    local: false,
    heloName: 'mail.sender.example',
    ...extra,
  };
}

/** The log line's tail for a check that fired on smtpInput()'s message. */
export const SUFFIX = ' from mail.sender.example[192.0.2.10]; from=<alice@sender.example> to=<bob@rcpt.example> proto=ESMTP helo=<mail.sender.example>';

/** The queued message; fails the test when cleanup did not queue it. */
export function queued(r: CleanupResult): NewMessage {
  assert.equal(r.action, 'queue', JSON.stringify(r));
  return (r as { message: NewMessage }).message;
}

/** The message's bytes after the Received header cleanup put first. */
export function afterReceived(m: NewMessage): Buffer {
  const b = Buffer.from(m.content);
  const text = b.toString('latin1');
  assert.match(text, /^Received: /);
  // The Received header ends at the first line that does not start with a tab.
  let pos = 0;
  do pos = b.indexOf('\r\n', pos) + 2;
  while (b[pos] === 0x09);
  return b.subarray(pos);
}
