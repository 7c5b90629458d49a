/**
 * cleanup-submit: the one way a message enters the queue, shared by smtpd,
 * pickup and bounce: cleanup (inline, in the calling thread) and then the
 * journal actor, which replies only once the message is on disk. Failures
 * come back as a SubmitFailure with an SMTP code, so smtpd can say 4xx or 5xx
 * and the caller of sendmail can keep its file for the next scan.
 * A spooled message's file is deleted here unless the store took it (it
 * moves the file beside the journal when the message is queued with its
 * body there): refused, discarded, read whole by cleanup, or not queued.
 */
import { unlink } from 'node:fs/promises';
import type { Cleanup, CleanupInput } from './cleanup.js';
import type { PeerGroup } from '../runtime/actor.js';
import type { JournalProtocol } from '../protocol/protocol.js';
import type { Logger } from '../util/log.js';
import { isSoftDsn, splitDsnText } from '../global/dsn-status.js';

export type SubmitOutcome =
  /** spoolTaken: the store moved the spool file beside the journal (the body stays there). */
  | { ok: true; queueId: string; spoolTaken?: boolean }
  /** asIs: a reply the client hears unchanged (a milter's), rather than smtpd's own for the class. */
  | { ok: false; code: number; dsn: string; text: string; asIs?: boolean };

/** How long an append may wait for the journal (a journal restart replays the queue first). */
const APPEND_TIMEOUT_MS = 60_000;

export async function submitToQueue(
  cleanup: Cleanup,
  journal: PeerGroup<JournalProtocol>,
  log: Logger,
  input: CleanupInput,
): Promise<SubmitOutcome> {
  if (!input.spooled) return submitOnce(cleanup, journal, log, input);
  const path = input.spooled.path;
  let outcome: SubmitOutcome | undefined;
  try {
    outcome = await submitOnce(cleanup, journal, log, input);
    return outcome;
  } finally {
    // Queued with its body in the file: the store has moved it; otherwise it is not needed any more.
    if (!outcome?.ok || !outcome.spoolTaken) await unlink(path).catch(() => undefined);
  }
}

async function submitOnce(
  cleanup: Cleanup,
  journal: PeerGroup<JournalProtocol>,
  log: Logger,
  input: CleanupInput,
): Promise<SubmitOutcome> {
  const result = await cleanup.process(input);
  if (result.action === 'discard') {
    // Postfix answers 250 for a discarded message: the client must not retry it.
    return { ok: true, queueId: input.queueId };
  }
  if (result.action === 'reject') {
    const { dsn, text } = splitDsnText(result.reason, '5.7.1');
    if (result.code !== undefined && result.code >= 400) return { ok: false, code: result.code, dsn, text, asIs: true };
    return { ok: false, code: isSoftDsn(dsn) ? 451 : 550, dsn, text: text || 'Error: message content rejected' };
  }
  try {
    await journal.call('append', { message: result.message }, { timeoutMs: APPEND_TIMEOUT_MS });
    return result.message.bodyFile ? { ok: true, queueId: input.queueId, spoolTaken: true } : { ok: true, queueId: input.queueId };
  } catch (err) {
    const code = (err as { remoteCode?: string; code?: string }).remoteCode ?? (err as { code?: string }).code;
    log.warning(`${input.queueId}: queue file write error: ${(err as Error).message}${code ? ` (${code})` : ''}`);
    return { ok: false, code: 451, dsn: '4.3.0', text: 'Error: queue file write error' };
  }
}
