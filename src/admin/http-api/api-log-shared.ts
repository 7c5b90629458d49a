/**
 * api-log-shared: the HTTP API's line source when maillog_file is empty
 * (the log goes to standard output or to syslog): every thread's lines as
 * they are logged, from the log channel (util/log-channel), which the
 * actors publish on while the API is on (config/log-lines-shared).
 * Nothing throws.
 */
import { followLogLines } from '../../util/log-channel.js';
import type { LineSource } from './api-events.js';

export class SharedLines implements LineSource {
  private unfollow?: () => void;

  start(onLine: (line: string) => void): void {
    this.stop();
    this.unfollow = followLogLines((lines) => {
      for (const line of lines.split('\n')) onLine(line);
    });
  }

  stop(): void {
    this.unfollow?.();
    this.unfollow = undefined;
  }
}
