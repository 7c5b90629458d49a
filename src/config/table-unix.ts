/**
 * table-unix: Postfix's `unix:passwd.byname` and `unix:group.byname` tables,
 * asked of the system's name service through getent(1), so that NSS
 * sources (LDAP, sss, ...) answer as the files do. Lookups are synchronous
 * (smtpd's recipient check is), so the table keeps a snapshot of the whole
 * database, taken at the first lookup and taken again on a miss once it is
 * older than REFRESH_MS: a user added since is found, and a flood of
 * unknown names costs at most one getent per REFRESH_MS. The value of a
 * passwd.byname key is the passwd line, as Postfix's dict_unix gives it.
 * openUnixTable throws ConfigError for another map name; a lookup throws
 * TableLookupError when getent cannot be run or fails (not for a name it
 * does not list).
 */
import { execFileSync } from 'node:child_process';
import { ConfigError } from './main-config.js';
import { TableLookupError } from './table-lookup-error.js';
import type { LookupTable } from './table-types.js';

/** How old a snapshot may be before a miss takes a new one. */
const REFRESH_MS = 1000;

/** The databases Postfix's unix: type offers, and getent's name for each. */
const DATABASES: Record<string, string> = { 'passwd.byname': 'passwd', 'group.byname': 'group' };

/** Reads one whole database with getent; throws TableLookupError when getent fails. */
function readDatabase(spec: string, database: string): Map<string, string> {
  let out: string;
  try {
    out = execFileSync('getent', [database], { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // getent exits 2 for "no entries", not an error here.
    if ((err as { status?: number }).status === 2) return new Map();
    throw new TableLookupError(`${spec}: getent ${database}: ${(err as Error).message}`);
  }
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if (!map.has(name)) map.set(name, line);
  }
  return map;
}

class UnixTable implements LookupTable {
  readonly type = 'unix';
  private snapshot: Map<string, string> | undefined;
  private takenAt = 0;

  constructor(
    readonly spec: string,
    private readonly database: string,
  ) {}

  get(key: string): string | undefined {
    // Only user names are keys: an address or a domain never is.
    if (!key || key.includes('@')) return undefined;
    const now = Date.now();
    if (!this.snapshot) this.take(now);
    const hit = this.snapshot!.get(key);
    if (hit !== undefined || now - this.takenAt < REFRESH_MS) return hit;
    this.take(now);
    return this.snapshot!.get(key);
  }

  getPartial(key: string): string | undefined {
    return this.get(key);
  }

  private take(now: number): void {
    this.snapshot = readDatabase(this.spec, this.database);
    this.takenAt = now;
  }
}

/** Opens `unix:NAME` (NAME is passwd.byname or group.byname). */
export function openUnixTable(spec: string, name: string): LookupTable {
  const database = DATABASES[name.trim()];
  if (!database) throw new ConfigError(`table ${spec}: unknown unix map name: ${name} (passwd.byname or group.byname)`);
  return new UnixTable(spec, database);
}
