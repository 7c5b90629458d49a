/**
 * table-budget: the time budget of patterns that need the backtracking
 * engine (backreferences and lookahead in pcre: and regexp: tables, which
 * RE2 cannot run). withMatchBudget(ms, fn) runs fn inside a node:vm call
 * whose timeout interrupts a running regular expression; once the budget is
 * spent, the work in fn is abandoned and TableLookupError is thrown naming
 * the rule that was running. Scopes do not nest: inside one, the outer
 * budget governs. Entering a scope costs a few hundred microseconds (the
 * timeout's watchdog thread), so callers open one around a whole check run,
 * not per lookup, and only when a table has such patterns
 * (LookupTable.backtracking).
 *
 * A thread whose every task is already bounded from outside (a pool worker
 * that is terminated at its deadline) calls boundedByCaller() once; its
 * lookups then run without a scope of their own.
 */
import { Script, createContext } from 'node:vm';
import { TableLookupError } from './table-lookup-error.js';

/**
 * The budget of one lookup made outside any scope (an smtpd restriction, an
 * address rewrite). It is wall-clock time: generous, so that a thread of a
 * loaded machine waiting for a core does not fail benign lookups.
 */
export const LOOKUP_BUDGET_MS = 250;

const context = createContext({ run: undefined as (() => unknown) | undefined });
const script = new Script('run()', { filename: 'table-budget' });

let inScope = false;
let bounded = false;
/** The backtracking rule being run, named in the error when time runs out. */
let runningRule = '';

/** True when lookups made now are already under a budget (a scope, or a thread bounded by its caller). */
export function inMatchBudget(): boolean {
  return inScope || bounded;
}

/** Declares that this thread's work is bounded from outside: lookups need no scope of their own. */
export function boundedByCaller(): void {
  bounded = true;
}

/** Notes which rule runs now (e.g. "pcre map /etc/x, line 3"), for the error when the budget runs out. */
export function noteRunningRule(where: string): void {
  runningRule = where;
}

/**
 * Runs fn (synchronous) with every backtracking match in it bounded by `ms`
 * milliseconds in total. Throws TableLookupError when the time runs out;
 * other errors from fn pass through unchanged.
 */
export function withMatchBudget<T>(ms: number, fn: () => T): T {
  if (inScope || bounded) return fn();
  inScope = true;
  runningRule = '';
  context.run = fn;
  try {
    return script.runInContext(context, { timeout: ms }) as T;
  } catch (err) {
    if ((err as { code?: string })?.code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
    throw new TableLookupError(`${runningRule || 'regular expression'}: match time limit of ${ms} ms exceeded`);
  } finally {
    context.run = undefined;
    inScope = false;
  }
}
