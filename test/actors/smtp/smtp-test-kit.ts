/**
 * smtp-test-kit: small builders shared by the smtp agent tests: a MainConfig
 * from a few parameters, a delivery request around a Buffer, and a log sink
 * that keeps the lines it is given.
 */
import { MainConfig } from '../../../src/config/main-config.js';
import type { DeliveryRequest, DeliveryResult } from '../../../src/protocol/protocol.js';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import type { BodyLocation } from '../../../src/store/store-types.js';
import { configureLogging, Logger, type LogSink } from '../../../src/util/log.js';

export const CONTENT = Buffer.from(
  'From: a@example.org\r\nTo: b@example.com\r\nSubject: test\r\n\r\nHello.\r\n.leading dot line\r\nLast line\r\n',
);

export function makeConfig(params: Record<string, string> = {}): MainConfig {
  return new MainConfig({ myhostname: 'client.test', ...params }, process.cwd());
}

export function makeRequest(over: Partial<DeliveryRequest> & { to?: string[] } = {}): DeliveryRequest {
  const to = over.to ?? ['b@example.com'];
  const { to: _to, ...rest } = over;
  return {
    queueId: 'ABC123',
    sender: 'a@example.org',
    arrivalTime: Date.now() - 50,
    activeTime: Date.now() - 20,
    location: { segment: 1, offset: 0, length: CONTENT.length },
    headerLength: CONTENT.indexOf('\r\n\r\n') + 4,
    size: CONTENT.length,
    transport: 'smtp',
    nexthop: 'example.com',
    recipients: to.map((address, index) => ({ address, index })),
    ...rest,
  };
}

/** A readContent that returns `content` for any location. */
export function contentReader(content: Buffer = CONTENT): (loc: BodyLocation) => Promise<Buffer> {
  return async () => content;
}

/** Captures this thread's log lines. */
export function captureLog(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const sink: LogSink = { write: (l) => lines.push(l), flush: () => undefined, reopen: () => undefined };
  configureLogging({ sink, myhostname: 'client.test' });
  return { lines, log: new Logger('smtp', 1) };
}

/**
 * One delivery of `content` by a fresh smtp agent to a sink on loopback (no
 * connection cache), as qmgr asks for it: its result and the log lines.
 */
export async function deliverToSink(
  port: number,
  content: Buffer,
  params: Record<string, string> = {},
  over: Partial<DeliveryRequest> & { to?: string[] } = {},
): Promise<{ res: DeliveryResult; lines: string[] }> {
  const { log, lines } = captureLog();
  const agent = new SmtpAgent({ config: makeConfig({ smtp_connection_cache_time_limit: '0s', ...params }), log, readContent: contentReader(content) });
  const res = await agent.deliver(makeRequest({
    nexthop: `[127.0.0.1]:${port}`,
    location: { segment: 1, offset: 0, length: content.length },
    headerLength: content.indexOf('\r\n\r\n') + 4,
    size: content.length,
    ...over,
  }));
  await agent.close();
  return { res, lines };
}
