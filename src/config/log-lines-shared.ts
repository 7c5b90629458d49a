/**
 * log-lines-shared: whether worker threads publish their log lines for the
 * HTTP API (util/log-channel): when the API is on (http_api_listen) and
 * there is no maillog_file for it to follow. The actors and the API's
 * server ask the same question, so one answer serves both. Never throws.
 */
import type { MainConfig } from './main-config.js';

export function logLinesShared(cfg: MainConfig): boolean {
  return cfg.get('http_api_listen').trim() !== '' && cfg.path('maillog_file') === '';
}
