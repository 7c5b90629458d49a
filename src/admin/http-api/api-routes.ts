/**
 * api-routes: the JSON API under /api/v1/ and /healthz, each route with the
 * JSON schema that validates its request and describes its answer; the
 * OpenAPI document (/api/v1/openapi.json) is generated from these same
 * schemas. Queue ids, states and bodies that do not match get a 400 with a
 * JSON error before any handler runs, so bad input changes nothing.
 *
 * The queue is every shard as one queue (queue-view), as `postrider queue`
 * sees it; actions go through qmgr and the journal as postsuper's do, and
 * are logged under postsuper's name.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { QueuedMessage, QueueName } from '../../store/store-types.js';
import { readContent } from '../../store/queue-store.js';
import type { DestinationView } from '../../protocol/protocol.js';
import type { Supervisor } from '../../supervisor/supervisor.js';
import { formatPostqueueJson, queueNameOf } from '../queue-format.js';
import { findMessage, livePages, qmgrDestinations, queueFlush, type ShardedQueue } from '../queue-view.js';
import { queueAdminLogged } from '../admin-commands.js';
import { healthOf } from '../health.js';
import { inject, InjectRefused, InjectUnavailable, type InjectRequest } from './api-inject.js';
import type { LogEvents } from './api-events.js';
import type { ThroughputHistory } from './api-throughput.js';

const QUEUE_ID = { type: 'string', pattern: '^[0-9A-Za-z]{6,20}$' } as const;
const STATES = ['incoming', 'active', 'deferred', 'hold', 'corrupt'] as const;
const ERROR = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;
const QUEUE_ENTRY = {
  type: 'object',
  description: 'One message as postqueue -j prints it',
  properties: {
    queue_name: { type: 'string' },
    queue_id: { type: 'string' },
    arrival_time: { type: 'integer' },
    message_size: { type: 'integer' },
    forced_expire: { type: 'boolean' },
    sender: { type: 'string' },
    recipients: { type: 'array', items: { type: 'object', properties: { address: { type: 'string' }, delay_reason: { type: 'string' } } } },
  },
} as const;
const PAGE_MAX = 1000;

export interface RouteHost {
  sup: Supervisor;
  queue: ShardedQueue;
  queueDir: string;
  events: LogEvents;
  throughput: ThroughputHistory;
}

/** The postqueue -j object of a message. */
function entryOf(m: QueuedMessage): Record<string, unknown> {
  return JSON.parse(formatPostqueueJson(m, queueNameOf(m))) as Record<string, unknown>;
}

/** The recipient domain of an address ("" for none), lower case: the destination as qshape groups it. */
function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

export function registerRoutes(app: FastifyInstance, host: RouteHost): void {
  const { sup, queue } = host;

  app.get('/healthz', {
    schema: {
      summary: 'Whether every role serves (200) or not (503, with the reason)',
      response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: { type: 'object', properties: { status: { type: 'string' }, reason: { type: 'string' } } } },
    },
  }, async (_req, reply) => {
    const h = healthOf(await sup.status());
    if (!h.ok) return reply.code(503).send({ status: 'unavailable', reason: h.text });
    return { status: 'ok' };
  });

  app.get('/api/v1/status', { schema: { summary: 'The actor tree, queue counts and load (what `postrider status --json` prints)', response: { 200: { type: 'object', additionalProperties: true } } } }, () => sup.status());

  app.get<{ Querystring: { state?: QueueName; sender?: string; recipient?: string; destination?: string; limit: number; offset: number } }>('/api/v1/queue', {
    schema: {
      summary: 'The queue, a page at a time, optionally filtered',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          state: { type: 'string', enum: [...STATES] },
          sender: { type: 'string', maxLength: 512, description: 'substring of the sender, case-insensitive' },
          recipient: { type: 'string', maxLength: 512, description: 'substring of a pending recipient, case-insensitive' },
          destination: { type: 'string', maxLength: 255, description: 'recipient domain' },
          limit: { type: 'integer', minimum: 1, maximum: PAGE_MAX, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 },
        },
      },
      response: { 200: { type: 'object', properties: { total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' }, messages: { type: 'array', items: QUEUE_ENTRY } } } },
    },
  }, async (req) => {
    const q = req.query;
    const sender = q.sender?.toLowerCase();
    const recipient = q.recipient?.toLowerCase();
    const destination = q.destination?.toLowerCase();
    const messages: Record<string, unknown>[] = [];
    let total = 0;
    for await (const page of livePages(queue, PAGE_MAX)) {
      for (const m of page) {
        if (q.state && queueNameOf(m) !== q.state) continue;
        if (sender !== undefined && !m.sender.toLowerCase().includes(sender)) continue;
        const pending = m.recipients.filter(isPending);
        if (recipient !== undefined && !pending.some((r) => r.address.toLowerCase().includes(recipient))) continue;
        if (destination !== undefined && !pending.some((r) => domainOf(r.address) === destination)) continue;
        if (total >= q.offset && messages.length < q.limit) messages.push(entryOf(m));
        total++;
      }
    }
    return { total, offset: q.offset, limit: q.limit, messages };
  });

  app.get<{ Params: { id: string }; Querystring: { body: boolean } }>('/api/v1/queue/:id', {
    schema: {
      summary: 'One message: its envelope, its header, and its body on request',
      params: { type: 'object', properties: { id: QUEUE_ID }, required: ['id'] },
      querystring: { type: 'object', additionalProperties: false, properties: { body: { type: 'boolean', default: false } } },
      response: {
        200: {
          type: 'object',
          properties: {
            message: QUEUE_ENTRY,
            envelope: { type: 'object', additionalProperties: true },
            headers: { type: 'string' },
            body: { type: 'string' },
          },
        },
        404: ERROR,
      },
    },
  }, async (req, reply) => {
    const m = await findMessage(queue, req.params.id);
    if (!m) return notFound(reply, req.params.id);
    const content = await readContent(host.queueDir, m.location);
    const split = headerEnd(content);
    const out: Record<string, unknown> = {
      message: entryOf(m),
      envelope: { sender: m.sender, arrivalTime: m.arrivalTime, size: m.size, hold: m.hold === true, recipients: m.recipients.map((r) => ({ address: r.address, state: r.state, reason: r.reason })) },
      headers: content.subarray(0, split).toString('latin1'),
    };
    if (req.query.body) out.body = content.subarray(split).toString('latin1');
    return out;
  });

  const action = (name: 'hold' | 'release' | 'requeue' | 'delete') => async (req: { params: { id: string } }, reply: FastifyReply) => {
    const m = await findMessage(queue, req.params.id);
    if (!m) return notFound(reply, req.params.id);
    return queueAdminLogged(queue, name, [req.params.id]);
  };
  const actionSchema = (summary: string) => ({
    summary,
    params: { type: 'object', properties: { id: QUEUE_ID }, required: ['id'] },
    response: { 200: { type: 'object', properties: { affected: { type: 'integer' }, queueIds: { type: 'array', items: { type: 'string' } } } }, 404: ERROR },
  });
  app.post<{ Params: { id: string } }>('/api/v1/queue/:id/hold', { schema: actionSchema('Put the message on hold (postsuper -h)') }, action('hold'));
  app.post<{ Params: { id: string } }>('/api/v1/queue/:id/release', { schema: actionSchema('Release a held message (postsuper -H)') }, action('release'));
  app.post<{ Params: { id: string } }>('/api/v1/queue/:id/requeue', { schema: actionSchema('Requeue the message (postsuper -r)') }, action('requeue'));
  app.delete<{ Params: { id: string } }>('/api/v1/queue/:id', { schema: actionSchema('Delete the message (postsuper -d)') }, action('delete'));

  app.post<{ Body: { site?: string } | undefined }>('/api/v1/flush', {
    schema: {
      summary: 'Attempt every deferred message now, or only those for one site (postqueue -f / -s)',
      body: { type: ['object', 'null'], additionalProperties: false, properties: { site: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s]+$' } } },
      response: { 200: { type: 'object', properties: { scheduled: { type: 'integer' } } } },
    },
  }, async (req) => queueFlush(queue, req.body?.site));

  app.post<{ Body: InjectRequest }>('/api/v1/inject', {
    schema: {
      summary: 'Submit a message; answers with its queue id once it is on disk',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to'],
        properties: {
          from: { type: 'string', maxLength: 512, description: 'envelope sender ("" for the null sender)' },
          to: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 512 } },
          raw: { type: 'string', description: 'the whole RFC 5322 message; or give subject/text/html/headers instead' },
          subject: { type: 'string' },
          text: { type: 'string' },
          html: { type: 'string' },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      response: {
        200: { type: 'object', properties: { queueId: { type: 'string' }, reply: { type: 'string' } } },
        422: { type: 'object', properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' }, smtp: { type: 'string' } } },
        503: ERROR,
      },
    },
  }, async (req, reply) => {
    try {
      return await inject(sup.currentConfig(), req.body);
    } catch (err) {
      if (err instanceof InjectRefused) {
        const temporary = err.code >= 400 && err.code < 500;
        return reply.code(temporary ? 503 : 422).send({ statusCode: temporary ? 503 : 422, error: temporary ? 'Service Unavailable' : 'Unprocessable Entity', message: `refused: ${err.reply}`, smtp: err.reply });
      }
      if (err instanceof InjectUnavailable) return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: err.message });
      throw err;
    }
  });

  app.get('/api/v1/destinations', {
    schema: {
      summary: 'Every (transport, nexthop) qmgr has scheduled to, and the queue by recipient domain',
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async () => {
    const merged = new Map<string, DestinationView>();
    for (const list of await qmgrDestinations(queue, { timeoutMs: 5000 })) {
      for (const d of list) {
        const key = `${d.transport}\u0000${d.nexthop}`;
        const have = merged.get(key);
        if (!have) merged.set(key, { ...d });
        else {
          have.active += d.active;
          have.queued += d.queued;
          have.window = Math.max(have.window, d.window);
          have.dead = have.dead || d.dead;
          if (d.lastError && (!have.lastError || d.lastError.at > have.lastError.at)) have.lastError = d.lastError;
        }
      }
    }
    // The queue by recipient domain, as Postfix's qshape groups it: pending recipients per state.
    const domains = new Map<string, { domain: string; active: number; deferred: number; hold: number; incoming: number }>();
    for await (const page of livePages(queue, PAGE_MAX)) {
      for (const m of page) {
        const state = queueNameOf(m);
        for (const r of m.recipients) {
          if (!isPending(r)) continue;
          const d = domainOf(r.address);
          let row = domains.get(d);
          if (!row) domains.set(d, (row = { domain: d, active: 0, deferred: 0, hold: 0, incoming: 0 }));
          if (state === 'active' || state === 'deferred' || state === 'hold' || state === 'incoming') row[state]++;
        }
      }
    }
    return { destinations: [...merged.values()], domains: [...domains.values()].sort((a, b) => b.deferred + b.active - (a.deferred + a.active)) };
  });

  app.get('/api/v1/throughput', {
    schema: {
      summary: 'Messages received, delivered, deferred and bounced per second over the last hour (counted from the log since the API started)',
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, () => host.throughput.series());

  app.get('/api/v1/events', { schema: { summary: 'The delivery log as Server-Sent Events (received, delivered, deferred, bounced, expired, rejected, actor)', produces: ['text/event-stream'] } }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': postrider events\n\n');
    let id = 0;
    const stop = host.events.listen((e) => {
      res.write(`id: ${++id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      stop();
    });
  });
}

/** A recipient still to be delivered (ready or deferred), as mailq lists it. */
function isPending(r: { state: string }): boolean {
  return r.state === 'ready' || r.state === 'deferred';
}

function notFound(reply: FastifyReply, id: string): FastifyReply {
  return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `queue id ${id}: not found` });
}

/** Where the header ends: after the blank line, or the whole content when there is none. */
function headerEnd(content: Buffer): number {
  const crlf = content.indexOf('\r\n\r\n');
  if (crlf >= 0) return crlf + 4;
  const lf = content.indexOf('\n\n');
  return lf >= 0 ? lf + 2 : content.length;
}
