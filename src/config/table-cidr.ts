/**
 * table-cidr: Postfix cidr: tables (cidr_table(5)): `network/prefix result`
 * or `address result` lines, IPv4 and IPv6 (brackets optional), searched in
 * file order (first match wins), with `if network` / `if !network` ...
 * `endif` blocks. IPv4-mapped IPv6 keys match IPv4 networks. A bad line
 * (bad address, non-zero host bits, missing result) throws ConfigError
 * naming the table spec, file and line.
 */
import { networkContains, parseIp, parseNetwork, type IpNetwork } from './ip-address.js';
import type { LookupTable } from './table-types.js';
import { readRules, type TableRule } from './table-rules.js';

interface CidrRule extends TableRule {
  net?: IpNetwork;
  negate?: boolean;
  result?: string;
}

class CidrTable implements LookupTable {
  readonly type = 'cidr';
  constructor(
    readonly spec: string,
    private readonly rules: CidrRule[],
  ) {}

  get(key: string): string | undefined {
    const ip = parseIp(key);
    if (!ip) return undefined;
    const rules = this.rules;
    for (let k = 0; k < rules.length; k++) {
      const r = rules[k];
      if (r.kind === 'endif') continue;
      const hit = networkContains(r.net as IpNetwork, ip);
      if (r.kind === 'if') {
        if (hit === r.negate) k = r.end as number;
        continue;
      }
      if (hit) return r.result;
    }
    return undefined;
  }

  getPartial(): undefined {
    return undefined;
  }
}

/** Builds a cidr: table from its file text. */
export function openCidrTable(spec: string, file: string, text: string): LookupTable {
  const rules = readRules<CidrRule>(spec, file, text, (body, isIf, fail) => {
    const negate = isIf && body.startsWith('!');
    if (negate) body = body.slice(1).trim();
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(body);
    const net = m ? parseNetwork(m[1]) : null;
    if (net === null) return fail(`bad net/mask pattern: "${m ? m[1] : body}"`);
    if (typeof net === 'string') return fail(net);
    const result = (m?.[2] ?? '').trim();
    if (isIf) {
      if (result) fail('ignoring extra text after IF statement');
      return { kind: 'if', net, negate };
    }
    if (!result) fail(`no lookup result for "${m?.[1]}"`);
    return { kind: 'match', net, result };
  });
  return new CidrTable(spec, rules);
}
