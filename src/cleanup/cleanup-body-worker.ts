/**
 * cleanup-body-worker: the piscina task that runs body_checks,
 * mime_header_checks and nested_header_checks (cleanup-body-walk) off the
 * hot path. Tables are opened
 * once per worker thread and kept. A table that cannot be opened or read is
 * answered as { error } rather than thrown, so the caller can defer the mail.
 */
import { openTableList, type LookupTable } from '../config/lookup-table.js';
import type { CheckEvent } from './cleanup-actions.js';
import { walkBody } from './cleanup-body-walk.js';

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
}

export type BodyTaskResult = { events: CheckEvent[] } | { error: string };

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
  try {
    const buf = Buffer.from(task.content.buffer, task.content.byteOffset, task.content.byteLength);
    const events = walkBody(buf, task.bodyStart, task.contentType, {
      bodyChecks: table(task.bodyChecks, task.dir),
      mimeHeaderChecks: table(task.mimeHeaderChecks, task.dir),
      nestedHeaderChecks: table(task.nestedHeaderChecks, task.dir),
      bodySizeLimit: task.bodySizeLimit,
      lineLength: task.lineLength,
    });
    return { events };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
