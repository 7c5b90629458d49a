/**
 * check-transports: `postrider check`'s test that every transport mail can
 * be routed to names a master.cf service that runs a delivery agent. In
 * Postfix the transport is the service name (qmgr connects to
 * private/<transport>); a name with no such service holds its mail in the
 * queue with "mail transport unavailable" until it expires. Checked:
 * default_transport; relay_transport, virtual_transport and local_transport
 * when their domain list can send mail there; the fixed results of
 * transport_maps (static:, inline:, hash-like tables; a pattern table's
 * results depend on the key and are qmgr's to report); content_filter, in
 * main.cf and in each smtpd service's -o values. A master.cf without
 * a qmgr delivers nothing, so there nothing is checked. Each problem is an
 * error at the line that set the value (main.cf, or the trivial-rewrite
 * service's -o line). Never throws: a table that cannot be opened is
 * check-config's to report.
 */
import { join } from 'node:path';
import { deliveryRoles } from '../protocol/role-catalogue.js';
import type { ConfigProblem, MasterService } from './config-types.js';
import type { LoadedConfig } from './load-config.js';
import { openTableList } from './lookup-table.js';
import { MainConfig, splitList } from './main-config.js';

/** The transport parameters, the default transport an empty one means, and the domain list that sends mail there (none: always). */
const TRANSPORT_PARAMETERS: ReadonlyArray<{ name: string; fallback: string; domains?: string }> = [
  { name: 'default_transport', fallback: 'smtp' },
  { name: 'relay_transport', fallback: 'relay', domains: 'relay_domains' },
  { name: 'virtual_transport', fallback: 'virtual', domains: 'virtual_mailbox_domains' },
  { name: 'local_transport', fallback: 'local', domains: 'mydestination' },
];

/** The transport part of "transport:nexthop" (empty when the value keeps the default). */
function transportOf(value: string): string {
  const v = value.trim();
  const colon = v.indexOf(':');
  return (colon < 0 ? v : v.slice(0, colon)).trim();
}

/** Every transport problem of a loaded configuration. */
export function checkTransports(loaded: LoadedConfig): ConfigProblem[] {
  if (!loaded.master.some((s) => s.command === 'qmgr')) return [];
  const agents = new Set<string>(deliveryRoles());
  const services = new Map<string, MasterService>();
  for (const s of loaded.master) if (s.type === 'unix') services.set(s.name, s);
  const mainFile = join(loaded.dir, 'main.cf');
  const problems: ConfigProblem[] = [];

  /** The problem with one transport name, or null. */
  const missing = (transport: string): string | null => {
    const s = services.get(transport);
    if (!s) return `transport ${transport} names no master.cf service; its mail would wait in the queue (mail transport unavailable)`;
    if (!agents.has(s.command)) return `transport ${transport} names the master.cf service ${s.name}, which runs ${s.command}, not a delivery agent (${[...agents].join(', ')})`;
    return null;
  };

  const check = (cfg: MainConfig, where: (name: string) => { file: string; line: number }, prefix: string, only?: Set<string>): void => {
    for (const p of TRANSPORT_PARAMETERS) {
      if (only && !only.has(p.name) && !(p.domains && only.has(p.domains))) continue;
      const value = cfg.get(p.name);
      const transport = transportOf(value) || p.fallback;
      if (p.domains && splitList(cfg.get(p.domains)).length === 0) continue;
      const why = missing(transport);
      if (why) problems.push({ severity: 'error', ...where(p.name), message: `${prefix}${p.name} = ${value}: ${why}` });
    }
    if (only && !only.has('transport_maps')) return;
    let maps;
    try {
      maps = openTableList(cfg.get('transport_maps'), cfg.dir);
    } catch {
      return;
    }
    const seen = new Set<string>();
    for (const table of maps.tables) {
      for (const value of table.values?.() ?? []) {
        const transport = transportOf(value);
        if (!transport || seen.has(transport)) continue;
        seen.add(transport);
        const why = missing(transport);
        if (why) problems.push({ severity: 'error', ...where('transport_maps'), message: `${prefix}transport_maps: ${table.spec} gives "${value}": ${why}` });
      }
    }
  };

  const main = new MainConfig(loaded.params, loaded.dir);
  check(main, (name) => loaded.origin[name] ?? { file: mainFile, line: 0 }, '');
  // content_filter: qmgr sends the mail of every service that sets it to its transport.
  const filterProblem = (value: string, where: { file: string; line: number }, prefix: string): void => {
    const transport = transportOf(value);
    const why = transport ? missing(transport) : null;
    if (why) problems.push({ severity: 'error', ...where, message: `${prefix}content_filter = ${value.trim()}: ${why}` });
  };
  filterProblem(main.get('content_filter'), loaded.origin.content_filter ?? { file: mainFile, line: 0 }, '');
  for (const s of loaded.master) {
    if (s.command === 'smtpd' && 'content_filter' in s.overrides) filterProblem(s.overrides.content_filter, { file: s.file, line: s.line }, `service ${s.name}: `);
  }
  // trivial-rewrite reads these parameters: its own -o values count for the mail it routes.
  for (const s of loaded.master) {
    if (s.command !== 'trivial-rewrite') continue;
    const names = new Set(Object.keys(s.overrides));
    check(main.with(s.overrides), () => ({ file: s.file, line: s.line }), `service ${s.name}: `, names);
  }
  return problems;
}
