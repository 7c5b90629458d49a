/**
 * cli-sendmail-command: `postrider sendmail ...` wired to the process's
 * standard streams; the work is in cli-sendmail.ts.
 */
import { runSendmail } from './cli-sendmail.js';

export function sendmailCommand(dir: string, args: string[]): Promise<number> {
  return runSendmail(args, { configDir: dir, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}
