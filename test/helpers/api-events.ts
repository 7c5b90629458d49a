/**
 * api-events: a client of the HTTP API's Server-Sent Events stream
 * (/api/v1/events) for the tests: it collects each event's JSON data as it
 * arrives. openEvents() asserts the stream answered 200 as text/event-stream.
 */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';

export interface StreamedEvent {
  type: string;
  queueId?: string;
  program: string;
  line: string;
}

export interface EventStream {
  events: StreamedEvent[];
  close(): void;
}

/** Opens the stream on loopback `port`, with a bearer token when given. */
export async function openEvents(port: number, token?: string): Promise<EventStream> {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers }, resolve);
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream');
  const events: StreamedEvent[] = [];
  let buf = '';
  res.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const data = buf.slice(0, i).split('\n').find((l) => l.startsWith('data: '));
      buf = buf.slice(i + 2);
      if (data) events.push(JSON.parse(data.slice(6)) as StreamedEvent);
    }
  });
  return { events, close: () => res.destroy() };
}

/** Whether the stream has carried both the received and the delivered event of queueId. */
export function receivedAndDelivered(stream: EventStream, queueId: string): boolean {
  return stream.events.some((e) => e.type === 'received' && e.queueId === queueId) && stream.events.some((e) => e.type === 'delivered' && e.queueId === queueId);
}
