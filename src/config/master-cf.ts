/**
 * master-cf: parses master.cf. Each service line has eight columns (service,
 * type, private, unpriv, chroot, wakeup, maxproc, command + args); lines that
 * start with white space continue the previous one; '#' lines are comments.
 * `-o name=value` and `-o { name = value }` set per-service parameters
 * (returned raw here: the loader expands them). A service whose program is
 * not part of Postrider is reported once as a warning and dropped; a
 * malformed line, or an inet service whose name is no listen address
 * ([host:]port, inet-listen.ts), is an error problem naming file and line
 * and is dropped.
 * Never throws.
 */
import { masterCfPrograms } from '../protocol/role-catalogue.js';
import type { ConfigProblem, MasterService } from './config-types.js';
import { parseInetListen } from './inet-listen.js';
import { clip, logicalLines } from './main-cf.js';

/** The programs Postrider runs (the role catalogue's); every other master.cf program is skipped. */
export const SUPPORTED_PROGRAMS: ReadonlySet<string> = masterCfPrograms();

const TYPES = new Set(['inet', 'unix', 'unix-dgram', 'fifo', 'pass']);

/** The result of parsing master.cf; overrides are raw (unexpanded). */
export interface MasterCfParse {
  services: MasterService[];
  /** Services dropped because their program is not part of Postrider. */
  skipped: { name: string; type: string; command: string; line: number }[];
  problems: ConfigProblem[];
}

/** Splits a logical line on white space, keeping `{ ... }` groups as one token. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    let j = i;
    if (text[i] === '{') {
      let depth = 0;
      for (; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
      }
      j = Math.min(j + 1, text.length);
    } else {
      while (j < text.length && !/\s/.test(text[j])) j++;
    }
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

function yesNo(field: string, dflt: boolean): boolean | null {
  if (field === '-') return dflt;
  if (field === 'y') return true;
  if (field === 'n') return false;
  return null;
}

/** Parses master.cf text; `file` names the file in problems. */
export function parseMasterCf(text: string, file: string): MasterCfParse {
  const services: MasterService[] = [];
  const skipped: MasterCfParse['skipped'] = [];
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  const err = (line: number, message: string): void => {
    problems.push({ severity: 'error', file, line, message });
  };
  for (const l of logicalLines(text)) {
    if (l.orphan) {
      err(l.line, `text starts with white space but continues no service: "${clip(l.text)}"`);
      continue;
    }
    const f = tokenize(l.text);
    if (f.length < 8) {
      err(l.line, `bad field count (${f.length}, expected at least 8): "${clip(l.text)}"`);
      continue;
    }
    const [name, type, priv, unpriv, chroot, wakeup, maxproc, command, ...rest] = f;
    if (!TYPES.has(type)) {
      err(l.line, `service ${name}: bad transport type: ${clip(type)}`);
      continue;
    }
    const p = yesNo(priv, type !== 'inet');
    const u = yesNo(unpriv, true);
    const c = yesNo(chroot, false);
    if (p === null || u === null || c === null) {
      const bad = p === null ? priv : u === null ? unpriv : chroot;
      err(l.line, `service ${name}: bad boolean field value (expected y, n or -): ${clip(bad)}`);
      continue;
    }
    if (wakeup !== '-' && !/^\d+\??$/.test(wakeup)) {
      err(l.line, `service ${name}: bad wakeup time: ${clip(wakeup)}`);
      continue;
    }
    if (maxproc !== '-' && !/^\d+$/.test(maxproc)) {
      err(l.line, `service ${name}: bad process limit: ${clip(maxproc)}`);
      continue;
    }
    const args: string[] = [];
    const overrides: Record<string, string> = {};
    let bad = false;
    for (let k = 0; k < rest.length; k++) {
      const tok = rest[k];
      let spec: string | undefined;
      if (tok === '-o') {
        spec = rest[++k];
        if (spec === undefined) {
          err(l.line, `service ${name}: -o without name=value`);
          bad = true;
          break;
        }
      } else if (tok.startsWith('-o') && tok.length > 2 && !tok.startsWith('-o{')) {
        spec = tok.slice(2);
      } else {
        args.push(tok.startsWith('{') && tok.endsWith('}') ? tok.slice(1, -1).trim() : tok);
        continue;
      }
      if (spec.startsWith('{')) {
        if (!spec.endsWith('}')) {
          err(l.line, `service ${name}: unbalanced "{" in -o ${clip(spec)}`);
          bad = true;
          break;
        }
        spec = spec.slice(1, -1).trim();
      }
      const eq = spec.indexOf('=');
      const key = eq < 0 ? '' : spec.slice(0, eq).trim();
      if (eq < 0 || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(key)) {
        err(l.line, `service ${name}: bad -o parameter setting: "${clip(spec)}"`);
        bad = true;
        break;
      }
      overrides[key] = spec.slice(eq + 1).trim();
    }
    if (bad) continue;
    if (!SUPPORTED_PROGRAMS.has(command)) {
      problems.push({
        severity: 'warning',
        file,
        line: l.line,
        message: `service ${name}: program ${clip(command)} is not part of Postrider; skipped`,
      });
      skipped.push({ name, type, command, line: l.line });
      continue;
    }
    if (type === 'inet') {
      // A listener that cannot bind must fail `check`, not the start or reload of the daemon.
      try {
        parseInetListen(name);
      } catch (e) {
        err(l.line, (e as Error).message);
        continue;
      }
    }
    const key = `${name}/${type}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      problems.push({
        severity: 'warning',
        file,
        line: l.line,
        message: `duplicate service name/type entry "${key}" (first at line ${prev}); this one wins`,
      });
      const idx = services.findIndex((s) => `${s.name}/${s.type}` === key);
      if (idx >= 0) services.splice(idx, 1);
    }
    seen.set(key, l.line);
    services.push({
      name,
      type: type as MasterService['type'],
      private: p,
      unpriv: u,
      chroot: c,
      wakeup,
      maxproc: maxproc === '-' || Number(maxproc) === 0 ? null : Number(maxproc),
      command,
      args,
      overrides,
      file,
      line: l.line,
    });
  }
  return { services, skipped, problems };
}
