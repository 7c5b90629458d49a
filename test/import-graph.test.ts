/**
 * The import graph of src/: every import runs downhill, from a floor to the
 * floors below it, never up and never in a circle (type-only imports count:
 * they tie the modules together just the same). The floors, lowest first:
 *
 *   util        safe primitives: logging, metrics counters, SMTP replies, caches
 *   store       the journal library
 *   protocol    the typed messages and the role catalogue
 *   config      main.cf, master.cf, lookup tables
 *   global      mail concepts shared by several roles (DSN, content reader, log lines, maildrop, SASL file)
 *   runtime     the actor runtime every actor runs on (channels, calls, the worker side)
 *   cleanup     the cleanup library smtpd, pickup and bounce run inline
 *   actors/ROLE one folder per role; never imports another role
 *   supervisor  the master: spawns, wires and restarts actors
 *   admin       control-socket commands, metrics, queue checks
 *   cli         one file per command (and, on demand, the bench harness in perf/)
 *
 * A new folder must be given a floor here before anything may import it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Each floor and the floors it may import (its own always). */
const FLOORS: Record<string, readonly string[]> = {
  util: [],
  store: ['util'],
  protocol: ['store', 'util'],
  config: ['protocol', 'util'],
  global: ['config', 'protocol', 'store', 'util'],
  runtime: ['config', 'protocol', 'util'],
  cleanup: ['runtime', 'global', 'config', 'protocol', 'store', 'util'],
  actors: ['cleanup', 'runtime', 'global', 'config', 'protocol', 'store', 'util'],
  supervisor: ['runtime', 'config', 'protocol', 'store', 'util'],
  admin: ['supervisor', 'runtime', 'global', 'config', 'protocol', 'store', 'util'],
  cli: ['admin', 'supervisor', 'runtime', 'global', 'config', 'protocol', 'store', 'util', '../perf'],
};

/** Every .ts file under dir, as paths relative to dir. */
function sources(dir: string, under = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, under))) {
    const rel = under ? `${under}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...sources(dir, rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out.sort();
}

/** The floor of a file (relative to src): its top folder; "actors/ROLE" for an actor; "../x" outside src. */
function floorOf(file: string): string {
  if (file.startsWith('../')) return `../${file.split('/')[1]}`;
  const [top, second] = file.split('/');
  return top === 'actors' ? `actors/${second}` : top;
}

/** The relative imports of each file (static, type-only, re-exports, dynamic), resolved to .ts paths relative to src. */
function importGraph(src: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(src)) {
    const info = ts.preProcessFile(readFileSync(join(src, file), 'utf8'), true, true);
    const targets: string[] = [];
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const abs = resolve(join(src, dirname(file)), ref.fileName).replace(/\.js$/, '.ts');
      targets.push(relative(src, abs).split(sep).join('/'));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The problems of a source tree: imports that go up or sideways, and circles. */
export function layoutProblems(src: string): string[] {
  const graph = importGraph(src);
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const from = floorOf(file);
    const allowed = FLOORS[from.split('/')[0]];
    if (!allowed) {
      problems.push(`${file}: folder ${from} has no floor`);
      continue;
    }
    for (const target of targets) {
      const to = floorOf(target);
      if (to === from) continue;
      const ok = to.startsWith('actors/') ? false : allowed.includes(to);
      if (!ok) problems.push(`${file} imports ${target}: ${from} may not import ${to}`);
    }
  }
  // Circles: strongly connected components of more than one file (or a file importing itself).
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) problems.push(`import circle: ${scc.sort().join(' <-> ')}`);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return problems;
}

test('every import in src/ runs downhill, and none runs in a circle', () => {
  assert.deepEqual(layoutProblems(join(ROOT, 'src')), []);
});

test('every folder of src/ has a floor', () => {
  const folders = readdirSync(join(ROOT, 'src')).filter((n) => statSync(join(ROOT, 'src', n)).isDirectory());
  assert.deepEqual(folders.filter((f) => !FLOORS[f]), []);
});

test('the check finds an upward import, an actor importing another, a folder without a floor, and circles', () => {
  const src = mkdtempSync(join(tmpdir(), 'postrider-layout-'));
  try {
    const put = (file: string, text: string): void => {
      mkdirSync(dirname(join(src, file)), { recursive: true });
      writeFileSync(join(src, file), text);
    };
    put('util/a.ts', "import { b } from '../store/b.js';\nexport const a = b;\n");
    put('store/b.ts', "import type { c } from './c.js';\nexport const b = 1 as c;\n");
    put('store/c.ts', "import { b } from './b.js';\nexport type c = typeof b;\n");
    put('actors/smtp/x.ts', "export { y } from '../qmgr/y.js';\n");
    put('actors/qmgr/y.ts', 'export const y = 1;\n');
    put('attic/z.ts', "import { a } from '../util/a.js';\nexport const z = a;\n");
    assert.deepEqual(layoutProblems(src).sort(), [
      'actors/smtp/x.ts imports actors/qmgr/y.ts: actors/smtp may not import actors/qmgr',
      'attic/z.ts: folder attic has no floor',
      'import circle: store/b.ts <-> store/c.ts',
      'util/a.ts imports store/b.ts: util may not import store',
    ]);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
});
