/**
 * syslog-target: where log lines go when maillog_file is empty, read from
 * syslog_socket and syslog_facility (an unknown facility, which check
 * refuses, falls back to mail). Never throws.
 */
import { facilityCode } from '../util/syslog-format.js';
import type { SyslogTarget } from '../util/log.js';
import type { MainConfig } from './main-config.js';

export function syslogTargetOf(cfg: MainConfig): SyslogTarget {
  return { socket: cfg.path('syslog_socket') || '/dev/log', facility: facilityCode(cfg.get('syslog_facility')) ?? 2 };
}
