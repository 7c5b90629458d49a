/**
 * table-lookup-error: a lookup that could not be answered, Postfix's
 * DICT_ERR_RETRY. The key may or may not be in the table: the caller must
 * neither treat it as found nor as absent, but fail temporarily (smtpd
 * answers 4xx, cleanup defers the message, trivial-rewrite defers the
 * recipient), as Postfix does when a map lookup fails.
 */

/** A table lookup that failed (time budget exhausted, unreadable table). */
export class TableLookupError extends Error {
  readonly code = 'ERR_TABLE_LOOKUP';
}
