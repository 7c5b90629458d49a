/**
 * store-intern: shares equal strings and client records between queued
 * messages, so a large queue of mail from few clients to few domains holds
 * each value once. The tables are bounded: when full they start afresh
 * (sharing is an economy, never a requirement). Never throws.
 */
import type { ClientInfo, QueuedMessage } from './store-types.js';

const MAX_ENTRIES = 65_536;
let strings = new Map<string, string>();
let clients = new Map<string, ClientInfo>();
let lastClient: ClientInfo | undefined;

/** The shared copy of `s`. */
function intern(s: string): string {
  const hit = strings.get(s);
  if (hit !== undefined) return hit;
  if (strings.size >= MAX_ENTRIES) strings = new Map();
  strings.set(s, s);
  return s;
}

/** A shared, frozen client record equal to `c`. */
function internClient(c: ClientInfo): ClientInfo {
  // Mail tends to come in runs from one client: compare with the last one first.
  const last = lastClient;
  if (last && last.name === c.name && last.addr === c.addr && last.port === c.port && last.helo === c.helo &&
    last.protocol === c.protocol && last.saslUser === c.saslUser) return last;
  const key = `${c.name}\0${c.addr}\0${c.port ?? ''}\0${c.helo ?? ''}\0${c.protocol}\0${c.saslUser ?? ''}`;
  const hit = clients.get(key);
  if (hit) {
    lastClient = hit;
    return hit;
  }
  if (clients.size >= MAX_ENTRIES) clients = new Map();
  const frozen = Object.freeze({ ...c });
  clients.set(key, frozen);
  lastClient = frozen;
  return frozen;
}

/** Shares a queued message's repeated values in place. */
export function internMessage(q: QueuedMessage): void {
  q.sender = intern(q.sender);
  q.client = internClient(q.client);
  for (const r of q.recipients) {
    r.address = intern(r.address);
    if (r.orcpt !== undefined) r.orcpt = intern(r.orcpt);
    if (r.origRcpt !== undefined) r.origRcpt = intern(r.origRcpt);
  }
}
