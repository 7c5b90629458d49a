/**
 * check-policy-services: `postrider check`'s look at the policy servers
 * that the restriction lists name (main.cf, restriction classes, master.cf
 * -o): each is connected to once, and one that cannot be reached (refused,
 * no such socket, no answer within the time limit) is a warning naming it,
 * since smtpd then gives every request its default action. An argument
 * that cannot be read is check-restrictions' error, not probed here.
 *
 * probePolicyServices() never rejects; each connection attempt is bounded
 * by `timeoutMs`.
 */
import { connect } from 'node:net';
import type { ConfigProblem, MasterService } from './config-types.js';
import { splitList } from './main-config.js';
import { parameterInfo } from './parameters.js';
import { parsePolicyService, policyServiceDefaults, type PolicyService } from './policy-service.js';
import { RESTRICTION_LISTS } from './restriction-names.js';

/** What the probe reads of a loaded configuration. */
export interface PolicyProbeSource {
  params: Record<string, string>;
  origin: Record<string, { file: string; line: number }>;
  master: readonly MasterService[];
}

interface Named {
  service: PolicyService;
  where: { file: string; line: number };
  param: string;
}

/** Every readable check_policy_service of one parameter view, with where it was set. */
function servicesOf(view: Record<string, string>, queueDir: string, where: (param: string) => { file: string; line: number }, params: readonly string[]): Named[] {
  let defaults;
  try {
    defaults = policyServiceDefaults((n) => view[n] ?? parameterInfo(n)?.default ?? '');
  } catch {
    return [];
  }
  const out: Named[] = [];
  for (const param of params) {
    const list = splitList(view[param] ?? '');
    for (let i = 0; i + 1 < list.length; i++) {
      if (list[i].toLowerCase() !== 'check_policy_service') continue;
      try {
        out.push({ service: parsePolicyService(list[++i], defaults, queueDir), where: where(param), param });
      } catch {
        // check-restrictions reports it
      }
    }
  }
  return out;
}

/** Connects once; undefined when the server accepted, else why not. */
function reach(service: PolicyService, timeoutMs: number): Promise<string | undefined> {
  const ep = service.endpoint;
  return new Promise((resolve) => {
    const socket = ep.kind === 'inet' ? connect({ host: ep.host, port: ep.port }) : connect({ path: ep.path });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no connection within ${timeoutMs / 1000} s`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' ? 'Connection refused' : err.code === 'ENOENT' ? 'No such file or directory' : err.message);
    });
  });
}

/** A warning for each policy server that cannot be reached; see the file comment. */
export async function probePolicyServices(src: PolicyProbeSource, mainFile: string, queueDir: string, timeoutMs = 3000): Promise<ConfigProblem[]> {
  const classParams = (view: Record<string, string>): string[] => splitList(view.smtpd_restriction_classes ?? '');
  const named: Named[] = servicesOf(src.params, queueDir, (p) => src.origin[p] ?? { file: mainFile, line: 0 }, [...RESTRICTION_LISTS, ...classParams(src.params)]);
  for (const s of src.master) {
    if (s.command !== 'smtpd') continue;
    const view = { ...src.params, ...s.overrides };
    const changed = [...RESTRICTION_LISTS, ...classParams(view)].filter((p) => p in s.overrides);
    named.push(...servicesOf(view, queueDir, () => ({ file: s.file, line: s.line }), changed));
  }
  const byEndpoint = new Map<string, Named>();
  for (const n of named) {
    const key = JSON.stringify(n.service.endpoint);
    if (!byEndpoint.has(key)) byEndpoint.set(key, n);
  }
  const results = await Promise.all([...byEndpoint.values()].map(async (n) => ({ n, why: await reach(n.service, timeoutMs) })));
  return results
    .filter((r) => r.why !== undefined)
    .map(({ n, why }) => ({
      severity: 'warning' as const,
      ...n.where,
      message: `${n.param}: check_policy_service ${n.service.name}: cannot connect: ${why}; until it answers, every request gets the default action "${n.service.options.defaultAction}"`,
    }));
}
