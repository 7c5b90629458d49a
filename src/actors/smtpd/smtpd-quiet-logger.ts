/**
 * smtpd-quiet-logger: smtp-server imports getLogger from nodemailer's shared
 * module, and that module imports nodemailer's fetch (node:http,
 * node:https, node:zlib): about 2 MiB of heap in every smtpd thread and a
 * third of its start-up, for a logger smtpd turns off (logger: false).
 *
 * quietSmtpServerLogger() registers a module resolution hook in the calling
 * thread that gives smtp-server's main module this file's getLogger in
 * place of nodemailer's. It answers exactly as nodemailer's does: for an
 * option `logger` that is not set, the same do-nothing logger; for any
 * other, nodemailer's own getLogger, loaded then. Only the import made by
 * smtp-server's own file is redirected; every other import resolves as
 * before. Call it before anything imports smtp-server (a static import
 * resolves the whole graph first: import smtp-server's users dynamically
 * after it). Where module.registerHooks does not exist, nothing changes.
 *
 * Errors: none thrown; a hook that cannot be registered leaves the usual
 * resolution in place.
 */
// A namespace import: a named import of registerHooks would not even link on
// Node 22.12-22.14, which engines allows and which lacks it.
import * as nodeModule from 'node:module';

const { createRequire } = nodeModule;
const registerHooks = (nodeModule as Partial<typeof nodeModule>).registerHooks;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const SHARED = 'nodemailer/lib/shared';

type LoggerOptions = { logger?: unknown } | undefined;
type LevelLogger = Record<(typeof LEVELS)[number], (...args: unknown[]) => unknown>;

/** nodemailer's getLogger for smtp-server: the do-nothing logger without loading nodemailer, else nodemailer's. */
export function getLogger(options: LoggerOptions, defaults?: Record<string, unknown>): LevelLogger {
  if (!options?.logger) return Object.fromEntries(LEVELS.map((level) => [level, () => false])) as LevelLogger;
  // smtp-server's own copy of nodemailer, as its import would have found it.
  const shared = createRequire(import.meta.resolve('smtp-server'))(SHARED) as { getLogger: typeof getLogger };
  return shared.getLogger(options, defaults);
}

let registered = false;

/** Registers the hook once per thread; see the file comment. */
export function quietSmtpServerLogger(): void {
  if (registered || typeof registerHooks !== 'function') return;
  registered = true;
  const server = import.meta.resolve('smtp-server');
  const self = import.meta.url;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === SHARED && context.parentURL === server) return { url: self, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}
