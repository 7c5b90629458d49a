/**
 * cleanup-body-worker: the piscina task that runs body_checks,
 * mime_header_checks and nested_header_checks (cleanup-body-walk) off the
 * hot path. Tables are opened
 * once per worker thread and kept. A table that cannot be opened or read is
 * answered as { error } rather than thrown, so the caller can defer the mail.
 * Every task is bounded by the pool's deadline (the thread is terminated
 * when it runs out), so patterns that need the backtracking engine run here
 * without a time budget of their own.
 */
import { openTableList, type LookupTable } from '../config/lookup-table.js';
import { boundedByCaller } from '../config/table-budget.js';
import { ContentCheckError, type CheckMap } from './cleanup-actions.js';
import { walkBody, type BodyWalkResult } from './cleanup-body-walk.js';

/** One body-check task. */
export interface BodyTask {
  content: Uint8Array;
  bodyStart: number;
  /** The primary Content-Type value ("" when absent). */
  contentType: string;
  bodyChecks: string;
  mimeHeaderChecks: string;
  nestedHeaderChecks: string;
  dir: string;
  bodySizeLimit: number;
  lineLength: number;
  /** mime_nesting_limit. */
  nestingLimit: number;
  /** Reject (rather than ignore) nesting deeper than the limit. */
  reportNesting: boolean;
  /** Shared with the pool: the worker writes Date.now() here when it starts the task, which starts its deadline. */
  startedAt?: BigInt64Array;
}

/** The walk's findings, or why it could not finish (the map whose table failed, when known). */
export type BodyTaskResult = BodyWalkResult | { error: string; map?: CheckMap };

boundedByCaller();

const tables = new Map<string, LookupTable>();

function table(value: string, dir: string): LookupTable | undefined {
  if (!value.trim()) return undefined;
  const key = `${dir}\0${value}`;
  let t = tables.get(key);
  if (!t) {
    t = openTableList(value, dir);
    tables.set(key, t);
  }
  return t;
}

/** Runs the checks over one message. */
export default function bodyCheck(task: BodyTask): BodyTaskResult {
  if (task.startedAt) Atomics.store(task.startedAt, 0, BigInt(Date.now()));
  try {
    const buf = Buffer.from(task.content.buffer, task.content.byteOffset, task.content.byteLength);
    return walkBody(buf, task.bodyStart, task.contentType, {
      bodyChecks: table(task.bodyChecks, task.dir),
      mimeHeaderChecks: table(task.mimeHeaderChecks, task.dir),
      nestedHeaderChecks: table(task.nestedHeaderChecks, task.dir),
      bodySizeLimit: task.bodySizeLimit,
      lineLength: task.lineLength,
      nestingLimit: task.nestingLimit,
      reportNesting: task.reportNesting,
    });
  } catch (err) {
    return err instanceof ContentCheckError ? { error: err.message, map: err.map } : { error: (err as Error).message };
  }
}
