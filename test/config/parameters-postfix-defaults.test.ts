/**
 * parameters-postfix-defaults: Postrider's defaults against Postfix 3.7's,
 * for every parameter both know. The facts come from a committed snapshot
 * of a real Postfix 3.7's defaults of all its parameters
 * (postfix-3.7-defaults.cf beside this file), so a parameter added later
 * is compared too, and the
 * test runs the same everywhere. A default may differ only when the table
 * says so (ParameterInfo.differs) with Postfix's value and the reason; the
 * README's "Coming from Postfix" lists exactly those.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARAMETERS, defaultValues } from '../../src/config/parameters.js';
import { Expander } from '../../src/config/main-cf-expand.js';
import { renderParameterTable } from '../../src/config/parameters-doc.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function readSnapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(ROOT, 'test/config/postfix-3.7-defaults.cf'), 'utf8').split('\n')) {
    const m = /^([A-Za-z0-9_]+) =(?: (.*))?$/.exec(line);
    if (m) out[m[1]] = m[2] ?? '';
  }
  return out;
}

/** Lists compare by their words, as Postfix reads them (commas and spaces alike). */
function words(v: string): string {
  return v.split(/[\s,]+/).filter(Boolean).join(' ');
}

const snapshot = readSnapshot();
const ours = new Expander(defaultValues('host.example.com'));

test('the snapshot holds Postfix 3.7 defaults of every parameter, Postrider\'s among them', () => {
  assert.ok(Object.keys(snapshot).length > 1000, 'snapshot too small');
  assert.equal(snapshot.mail_version, '3.7.11');
  assert.equal(snapshot.myhostname, 'host.example.com');
  const both = Object.keys(PARAMETERS).filter((name) => name in snapshot);
  assert.ok(both.length > 240, `only ${both.length} names in common`);
});

test('every default that differs from Postfix 3.7 says so, with Postfix value and reason; the others match', () => {
  const differing: string[] = [];
  for (const [name, theirs] of Object.entries(snapshot)) {
    if (!PARAMETERS[name]) continue;
    if (words(ours.value(name)) !== words(theirs)) differing.push(name);
  }
  const declared = Object.entries(PARAMETERS)
    .filter(([name, info]) => info.differs && name in snapshot)
    .map(([name]) => name);
  assert.deepEqual(differing.sort(), declared.sort(), 'a default differs from Postfix 3.7 without a reason, or a stated difference is gone');
  for (const name of declared) {
    const d = PARAMETERS[name]!.differs!;
    assert.ok(d.postfix.length > 0 && d.why.length > 10, `${name}: differs needs Postfix's value and a reason`);
  }
});

test('defaults Postrider once had wrong now match Postfix 3.7', () => {
  for (const name of ['smtpd_tls_protocols', 'smtp_tls_protocols', 'import_environment', 'export_environment', 'daemon_directory', 'shlib_directory']) {
    assert.equal(words(ours.value(name)), words(snapshot[name]!), name);
  }
});

test('the README lists every deliberate difference with Postfix value and reason', () => {
  const table = renderParameterTable();
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const [name, info] of Object.entries(PARAMETERS)) {
    if (!info.differs) continue;
    const row = table.split('\n').find((l) => l.startsWith(`| \`${name}\` |`) && l.includes(info.differs!.why.replace(/\|/g, '\\|')));
    assert.ok(row, `${name}: no row with its reason in the generated table`);
    assert.ok(readme.includes(row), `${name}: README lacks the row; run parameters-doc --write`);
  }
});

test('every parameter Postrider knows is a Postfix 3.7 name, or says it is Postrider\'s own', () => {
  // virtual_maps is gone from postconf's list but Postfix 3.7 still reads it: virtual_alias_maps = $virtual_maps.
  const legacy = new Set(['virtual_maps']);
  // Postfix names newer than 3.7, with the version that brought them (RFC 8689: 3.10 and 3.11).
  const later: Record<string, string> = {
    tls_required_enable: '3.10', requiretls_enable: '3.11', smtp_requiretls_policy: '3.11', requiretls_redact_dsn: '3.11',
  };
  const foreign = Object.entries(PARAMETERS)
    .filter(([name, info]) => !(name in snapshot) && !legacy.has(name) && !(name in later) && !info.summary.startsWith('Postrider:'))
    .map(([name]) => name);
  assert.deepEqual(foreign, [], 'named as Postfix parameters, yet unknown to Postfix 3.7');
  assert.equal(snapshot.virtual_alias_maps, '', 'Postfix expands $virtual_maps in virtual_alias_maps');
});
