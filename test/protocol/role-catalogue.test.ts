/**
 * The role catalogue is the one list of roles: master.cf parsing, the
 * supervisor's registry and the README's role table all follow it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deliveryRoles, inlineRoles, masterCfPrograms, ROLE_NAMES, roleEntry } from '../../src/protocol/role-catalogue.js';
import { readmeRoleSection, renderRoleTable } from '../../src/protocol/role-catalogue-doc.js';
import { defaultReadmePath } from '../../src/util/readme-path.js';
import { SUPPORTED_PROGRAMS } from '../../src/config/master-cf.js';
import { defaultRegistry } from '../../src/supervisor/roles.js';

test("README.md's role table is the generated one", () => {
  assert.equal(
    readmeRoleSection(readFileSync(defaultReadmePath(), 'utf8')),
    renderRoleTable(),
    'README.md role table is out of date: run `node dist/src/protocol/role-catalogue-doc.js --write` after `npm run build`',
  );
});

test('master.cf accepts exactly the catalogue programs; the journal, which always runs, is none', () => {
  assert.deepEqual([...SUPPORTED_PROGRAMS].sort(), ROLE_NAMES.filter((r) => r !== 'journal').sort());
  assert.equal(masterCfPrograms().has('journal'), false);
});

test('the registry starts every role but the inline ones, each from an entry file that exists', () => {
  const registry = defaultRegistry();
  assert.deepEqual(registry.map((s) => s.role).sort(), ROLE_NAMES.filter((r) => !inlineRoles().includes(r)).sort());
  for (const spec of registry) {
    assert.ok(existsSync(fileURLToPath(spec.entry)), `${spec.role}: ${spec.entry.href}`);
    assert.equal(spec.kind, roleEntry(spec.role as never).kind === 'delivery' ? 'delivery' : 'daemon');
  }
});

test('qmgr is wired to every delivery agent; the journal only notifies qmgr and drains after its callers', () => {
  const registry = new Map(defaultRegistry().map((s) => [s.role, s]));
  for (const agent of deliveryRoles()) assert.ok(registry.get('qmgr')!.peers.includes(agent), agent);
  assert.deepEqual(registry.get('journal')!.peers, []);
  assert.deepEqual(registry.get('journal')!.notifies, ['qmgr']);
  assert.deepEqual(deliveryRoles(), ['smtp', 'virtual', 'local', 'discard', 'error']);
});

test('every role a row calls is a role, and no role calls itself', () => {
  for (const role of ROLE_NAMES) {
    const e = roleEntry(role);
    for (const peer of [...e.calls, ...(e.notifies ?? [])]) {
      assert.ok((ROLE_NAMES as readonly string[]).includes(peer), `${role} calls ${peer}`);
      assert.notEqual(peer, role);
    }
    assert.equal(e.kind === 'inline', e.entry === undefined, `${role}: an entry file exactly when it is started`);
  }
});
