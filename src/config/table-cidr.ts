/**
 * table-cidr: Postfix cidr: tables (cidr_table(5)): `network/prefix result`
 * or `address result` lines, IPv4 and IPv6 (brackets optional), searched in
 * file order (first match wins), with `if network` / `if !network` ...
 * `endif` blocks. IPv4-mapped IPv6 keys match IPv4 networks. A bad line
 * (bad address, non-zero host bits, missing result) throws ConfigError
 * naming the table spec, file and line.
 */
import { ConfigError } from './main-config.js';
import { logicalLines } from './main-cf.js';
import { networkContains, parseIp, parseNetwork, type IpNetwork } from './ip-address.js';
import type { LookupTable } from './lookup-table.js';

interface CidrRule {
  kind: 'match' | 'if' | 'endif';
  net?: IpNetwork;
  negate?: boolean;
  result?: string;
  end?: number;
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
  const rules: CidrRule[] = [];
  const open: number[] = [];
  const fail = (line: number, why: string): never => {
    throw new ConfigError(`table ${spec}: ${file}, line ${line}: ${why}`);
  };
  for (const l of logicalLines(text)) {
    const t = l.text.trim();
    if (l.orphan) fail(l.line, 'text starts with white space but continues no rule');
    if (t.toLowerCase() === 'endif') {
      const at = open.pop();
      if (at === undefined) fail(l.line, 'ignoring ENDIF without matching IF');
      rules[at as number].end = rules.length;
      rules.push({ kind: 'endif' });
      continue;
    }
    const isIf = /^if\s/i.test(t);
    let body = isIf ? t.slice(2).trim() : t;
    const negate = isIf && body.startsWith('!');
    if (negate) body = body.slice(1).trim();
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(body);
    const net = m ? parseNetwork(m[1]) : null;
    if (net === null) fail(l.line, `bad net/mask pattern: "${m ? m[1] : body}"`);
    if (typeof net === 'string') fail(l.line, net);
    const result = (m?.[2] ?? '').trim();
    if (isIf) {
      if (result) fail(l.line, 'ignoring extra text after IF statement');
      open.push(rules.length);
      rules.push({ kind: 'if', net: net as IpNetwork, negate });
      continue;
    }
    if (!result) fail(l.line, `no lookup result for "${m?.[1]}"`);
    rules.push({ kind: 'match', net: net as IpNetwork, result });
  }
  if (open.length > 0) throw new ConfigError(`table ${spec}: ${file}: IF has no matching ENDIF`);
  return new CidrTable(spec, rules);
}
