/**
 * cleanup-sign-worker: the piscina entry point of the signing pool
 * (cleanup-sign.ts): runs one cleanup-sign-task. Never throws.
 */
import { runSignTask, type SignTask, type SignTaskResult } from './cleanup-sign-task.js';

export default function sign(task: SignTask): Promise<SignTaskResult> {
  return runSignTask(task);
}
