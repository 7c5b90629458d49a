/**
 * restart-policy: the restart intensity limit, as OTP supervisors have it:
 * more than `limit` restarts within `windowSeconds` means the fault is not
 * transient, and the tree stops instead of restarting forever.
 * Read from supervisor_restart_limit (default 10) and
 * supervisor_restart_window (default 60s); a malformed value falls back to
 * the default.
 */
import { MainConfig } from '../config/main-config.js';

export class RestartIntensity {
  private times: number[] = [];

  constructor(
    readonly limit: number,
    readonly windowSeconds: number,
  ) {}

  /** Reads the limit and window from main.cf parameters. */
  static fromParams(params: Record<string, string>, dir: string): RestartIntensity {
    const c = new MainConfig(params, dir);
    let limit = 10;
    let window = 60;
    try {
      if (c.get('supervisor_restart_limit')) limit = c.int('supervisor_restart_limit');
    } catch {
      // keep the default; check reports the malformed value
    }
    try {
      if (c.get('supervisor_restart_window')) window = c.time('supervisor_restart_window');
    } catch {
      // keep the default
    }
    return new RestartIntensity(limit, window);
  }

  /** Records one restart; returns true when the limit is now exceeded. */
  record(now = Date.now()): boolean {
    const since = now - this.windowSeconds * 1000;
    this.times = this.times.filter((t) => t > since);
    this.times.push(now);
    return this.times.length > this.limit;
  }

  /** Restarts within the window. */
  count(now = Date.now()): number {
    const since = now - this.windowSeconds * 1000;
    return this.times.filter((t) => t > since).length;
  }
}
