/**
 * config-types: the configuration as every actor sees it. main.cf is parsed
 * and expanded once (by the supervisor) into a plain record, which travels to
 * workers by structured clone and is wrapped in a MainConfig there.
 */

/** One problem found while loading configuration. */
export interface ConfigProblem {
  severity: 'warning' | 'error';
  file: string;
  /** 1-based; 0 when the problem is not tied to a line. */
  line: number;
  message: string;
}

/** One master.cf service line. */
export interface MasterService {
  /** Service name, e.g. "127.0.0.1:2525", "smtp", "submission", "cleanup". */
  name: string;
  type: 'inet' | 'unix' | 'unix-dgram' | 'fifo' | 'pass';
  private: boolean;
  unpriv: boolean;
  chroot: boolean;
  wakeup: string;
  /** null when "-" or "0": the role's default, sized to the cores. */
  maxproc: number | null;
  /** Program name: smtpd, qmgr, smtp, ... */
  command: string;
  /** Arguments other than -o overrides. */
  args: string[];
  /**
   * -o name=value overrides, already expanded; after loading, also every
   * parameter whose expanded value changes under them (see loadConfig).
   */
  overrides: Record<string, string>;
  /** The names this service's -o options set (loadConfig fills it in). */
  optionNames?: string[];
  file: string;
  line: number;
}
