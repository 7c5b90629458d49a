/**
 * milter-probe: `postrider check`'s look at the milters a configuration
 * names: probeMilters() tries to connect to each endpoint of smtpd_milters
 * and non_smtpd_milters (main.cf and each service's -o values) within a
 * short time and returns one line per endpoint that refuses or does not
 * answer. A list that does not parse is check-config's error, skipped here.
 * Never throws.
 */
import { connect } from 'node:net';
import { MainConfig } from '../config/main-config.js';
import { parseMilterList, type MilterSpec } from '../config/milter-settings.js';

const PROBE_TIMEOUT_MS = 2000;

/** Every milter endpoint the configuration names, once each. */
function endpoints(configs: MainConfig[]): MilterSpec[] {
  const defaults = { command_timeout: '30s', connect_timeout: '30s', content_timeout: '300s', default_action: 'tempfail', protocol: '6' };
  const seen = new Map<string, MilterSpec>();
  for (const cfg of configs) {
    for (const name of ['smtpd_milters', 'non_smtpd_milters']) {
      try {
        for (const spec of parseMilterList(cfg.get(name), defaults, name)) seen.set(spec.name, spec);
      } catch {
        // reported by check-config
      }
    }
  }
  return [...seen.values()];
}

function reach(spec: MilterSpec): Promise<string | undefined> {
  return new Promise((resolve) => {
    const e = spec.endpoint;
    const socket = e.kind === 'unix' ? connect({ path: e.path }) : connect({ host: e.host, port: e.port });
    const done = (problem: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done('connection timed out'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** "milter unix:/path: cannot connect: ECONNREFUSED" for each endpoint that cannot be reached now. */
export async function probeMilters(params: Record<string, string>, dir: string, overrides: Array<Record<string, string>>): Promise<string[]> {
  const main = new MainConfig(params, dir);
  const specs = endpoints([main, ...overrides.map((o) => main.with(o))]);
  const results = await Promise.all(specs.map(async (s) => [s.name, await reach(s)] as const));
  return results.filter(([, problem]) => problem !== undefined).map(([name, problem]) => `milter ${name}: cannot connect: ${problem} (mail gets milter_default_action while it is down)`);
}
