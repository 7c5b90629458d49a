/**
 * The README's parameter tables are generated from PARAMETERS; this test
 * fails when they drift apart, and checks the generator and its --write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARAMETERS } from '../../src/config/parameters.js';
import {
  BEGIN_MARKER, END_MARKER, ParametersDocError, defaultReadmePath, readmeParameterSection, renderParameterTable, replaceParameterSection,
} from '../../src/config/parameters-doc.js';

const PROGRAM = fileURLToPath(new URL('../../src/config/parameters-doc.js', import.meta.url));

test("README.md's parameter section is the generated table", () => {
  const readme = readFileSync(defaultReadmePath(), 'utf8');
  assert.ok(readme.includes('## Coming from Postfix'), 'README.md has the "Coming from Postfix" section');
  assert.equal(
    readmeParameterSection(readme),
    renderParameterTable(),
    'README.md parameter table is out of date: run `node dist/src/config/parameters-doc.js --write` after `npm run build`',
  );
});

test('the table lists every parameter once, in the table of its effect', () => {
  const table = renderParameterTable();
  const rows = table.split('\n').filter((l) => l.startsWith('| `'));
  const differing = Object.values(PARAMETERS).filter((info) => info.differs).length;
  assert.equal(rows.length, Object.keys(PARAMETERS).length + differing);
  const [actingAndDiffering, rest] = table.split('### Postfix parameters refused unless left at their default');
  const [acting, differs] = actingAndDiffering!.split('### Defaults that differ from Postfix 3.7');
  assert.match(differs!, /^\| `smtpd_tls_auth_only` \| `yes` \| no \| passwords never cross/m);
  const [refused, cosmetic] = rest!.split('### Postfix parameters accepted without effect');
  const part = { effective: acting, refused, cosmetic };
  for (const [name, info] of Object.entries(PARAMETERS)) {
    assert.ok(part[info.effect]!.includes(`| \`${name}\` |`), `${name} is in its table`);
  }
  assert.match(refused!, /^\| `smtpd_proxy_filter` \| \(empty\) \| .* \| mail would not be filtered \|$/m);
  assert.match(acting!, /^\| `queue_directory` \| .* \| path \| /m);
  assert.match(acting!, /^\| `myhostname` \| \(from the host\) \|/m);
});

test('cells escape pipes, show empty and computed defaults, and sort by name', () => {
  const table = renderParameterTable({
    zeta: { default: 'a|b', kind: 'string', summary: 'one | two', effect: 'effective' },
    alpha: { default: '', kind: 'list', summary: 'first', effect: 'effective' },
    host: { default: '', kind: 'string', summary: 'computed', effect: 'effective', computed: true },
    old: { default: 'x', kind: 'bool', summary: 'ignored', effect: 'cosmetic', why: 'nothing reads it' },
    filter: { default: '', kind: 'string', summary: 'filters', effect: 'refused', why: 'mail would not be filtered' },
  });
  assert.match(table, /\| `zeta` \| `a\\\|b` \| string \| one \\\| two \|/);
  assert.match(table, /\| `alpha` \| \(empty\) \| list \| first \|/);
  assert.match(table, /\| `host` \| \(from the host\) \|/);
  assert.ok(table.indexOf('`alpha`') < table.indexOf('`host`') && table.indexOf('`host`') < table.indexOf('`zeta`'));
  assert.match(table, /accepted without effect \(1\)[\s\S]*\| `old` \| `x` \| ignored \| nothing reads it \|/);
  assert.match(table, /refused unless left at their default \(1\)[\s\S]*\| `filter` \| \(empty\) \| filters \| mail would not be filtered \|/);
});

test('replaceParameterSection rewrites only between the markers; missing markers are ERR_NO_MARKERS', () => {
  const readme = `# T\n\nbefore\n${BEGIN_MARKER}\nstale\n${END_MARKER}\nafter\n`;
  const out = replaceParameterSection(readme, 'TABLE\n');
  assert.equal(out, `# T\n\nbefore\n${BEGIN_MARKER}\nTABLE\n${END_MARKER}\nafter\n`);
  assert.equal(readmeParameterSection(out), 'TABLE\n');
  assert.equal(replaceParameterSection(out, 'TABLE\n'), out, 'idempotent');
  assert.throws(() => replaceParameterSection('# no markers\n'), (e: unknown) => e instanceof ParametersDocError && e.code === 'ERR_NO_MARKERS');
  assert.throws(() => readmeParameterSection(`${END_MARKER}\n${BEGIN_MARKER}\n`), { code: 'ERR_NO_MARKERS' });
});

test('the program: --check fails on a stale README, --write fixes it, a README without markers is one line and exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-pdoc-'));
  try {
    const path = join(dir, 'README.md');
    writeFileSync(path, `# X\n\n${BEGIN_MARKER}\nold\n${END_MARKER}\n\n## Next\n`);
    const stale = spawnSync(process.execPath, [PROGRAM, '--check', path], { encoding: 'utf8' });
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /out of date; run node dist\/src\/config\/parameters-doc\.js --write/);
    execFileSync(process.execPath, [PROGRAM, '--write', path]);
    const written = readFileSync(path, 'utf8');
    assert.equal(readmeParameterSection(written), renderParameterTable());
    assert.ok(written.startsWith('# X\n\n') && written.endsWith(`${END_MARKER}\n\n## Next\n`));
    assert.equal(spawnSync(process.execPath, [PROGRAM, '--check', path]).status, 0);
    writeFileSync(path, '# no markers\n');
    const bad = spawnSync(process.execPath, [PROGRAM, '--write', path], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /has no "<!-- parameters:begin -->"/);
    const printed = execFileSync(process.execPath, [PROGRAM], { encoding: 'utf8' });
    assert.equal(printed, renderParameterTable());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
