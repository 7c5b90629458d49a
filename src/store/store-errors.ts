/**
 * store-errors: the queue store's error class and the mapping from system
 * error codes to the store's stable codes (STORE_ERRORS in store-types.ts).
 * ENOSPC, EDQUOT and EFBIG mean "full" (temporary: smtpd answers 4xx);
 * everything else that fails a write is ERR_STORE_IO.
 */
import { STORE_ERRORS } from './store-types.js';

/** An error of the store; callers branch on `code`, never on the text. */
export class StoreError extends Error {
  /** One of STORE_ERRORS' values. */
  readonly code: string;
  /** The system error code behind it, when there is one (ENOSPC, EIO, ...). */
  readonly sysCode?: string;

  constructor(code: string, message: string, sysCode?: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    if (sysCode !== undefined) this.sysCode = sysCode;
  }
}

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** Wraps a failed write or sync as ERR_STORE_FULL or ERR_STORE_IO. */
export function writeFailure(err: unknown, what: string): StoreError {
  return wrap(err, what, (sys) => (FULL_CODES.has(sys) ? STORE_ERRORS.FULL : STORE_ERRORS.IO));
}

/** Wraps a failed read: a missing segment is ERR_STORE_NOT_FOUND (compacted away). */
export function readFailure(err: unknown, what: string): StoreError {
  return wrap(err, what, (sys) => (sys === 'ENOENT' ? STORE_ERRORS.NOT_FOUND : STORE_ERRORS.IO));
}

/** A StoreError for a system error (EIO when it has no code), with the code `codeFor` picks; a StoreError as is. */
function wrap(err: unknown, what: string, codeFor: (sys: string) => string): StoreError {
  if (err instanceof StoreError) return err;
  const sys = (err as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
  const text = err instanceof Error ? err.message : String(err);
  return new StoreError(codeFor(sys), `${what}: ${text}`, sys);
}
