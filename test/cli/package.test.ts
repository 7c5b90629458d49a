/**
 * Packaging: the man pages are the ones the command and parameter tables
 * generate; `npm pack` ships the program, the configuration templates, the
 * man pages and the systemd unit, and nothing else (no key or table an
 * admin left in etc/, no tests, no benchmarks); a global install of the
 * packed file runs, defaults to /etc/postrider, writes a configuration
 * with init, and can be imported; the unit passes systemd-analyze verify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as manPages, renderManPages } from '../../src/cli/man-pages.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// The installed bin runs `node` from PATH: this Node, not an older one of the system.
const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;

function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { env: { ...process.env, PATH } }).status === 0;
}

function run(cmd: string, args: string[], cwd = ROOT, timeoutMs = 300_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const NPM_SKIP = onPath('npm') ? undefined : 'npm is not installed (Debian package npm)';

test('the man pages in man/ are those the command and parameter tables generate, and package.json installs each', () => {
  assert.equal(manPages(['--check', join(ROOT, 'man')]), 0);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[] };
  assert.deepEqual(pkg.man.map((m) => m.replace(/^\.\/man\//, '')).sort(), [...renderManPages().keys()].sort());
  assert.match(readFileSync(join(ROOT, 'man', 'postrider-config.1'), 'utf8'), /^\.B \\-e$/m);
});

test('npm pack ships the program, the templates, the man pages and the unit; no other etc/ file, no tests or benchmarks', { skip: NPM_SKIP }, async () => {
  const r = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']);
  assert.equal(r.code, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
  assert.deepEqual(files.filter((f) => f.startsWith('etc/')).sort(), ['etc/aliases', 'etc/main.cf', 'etc/master.cf']);
  assert.deepEqual(files.filter((f) => /^(dist\/)?(test|perf)\//.test(f) || f.startsWith('src/') || f.endsWith('.map')), []);
  assert.deepEqual(files.filter((f) => !/^(dist\/src\/|etc\/|man\/|systemd\/|README\.md$|package\.json$|LICENSE$|web\/dashboard\/)/.test(f)), []);
  for (const f of ['dist/src/cli/main.js', 'dist/src/cli/api.js', 'dist/src/cli/api.d.ts', 'man/postrider.1', 'man/postrider.conf.5', 'systemd/postrider.service', 'README.md']) {
    assert.ok(files.includes(f), `ships ${f}`);
  }
});

test('a global install of the packed file runs --version and init, and exports the API', { skip: NPM_SKIP }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'postrider-install-'));
  try {
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp]);
    assert.equal(packed.code, 0, packed.stderr);
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
    const prefix = join(tmp, 'prefix');
    // The npm cache serves what it holds; the registry the rest.
    const installed = await run('npm', ['install', '-g', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, join(tmp, tgz)], tmp);
    if (installed.code !== 0 && /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET/.test(installed.stderr)) {
      t.skip('the npm registry cannot be reached and the npm cache lacks the dependencies');
      return;
    }
    assert.equal(installed.code, 0, installed.stderr);
    const bin = join(prefix, 'bin', 'postrider');
    const version = await run(bin, ['--version'], tmp);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^postrider \d+\.\d+\.\d+\nnode v\d+/);
    // Installed, not a checkout: the configuration directory is Postfix's kind of place.
    assert.match(version.stdout, /^config_directory = \/etc\/postrider$/m);
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', 'postrider.1')), 'man pages installed');
    const conf = join(tmp, 'conf');
    const init = await run(bin, ['init', conf, '--queue-directory', join(tmp, 'queue')], tmp);
    assert.equal(init.code, 0, init.stderr);
    assert.match(readFileSync(join(conf, 'main.cf'), 'utf8'), /^# Postrider main\.cf/);
    const check = await run(bin, ['-c', conf, 'check'], tmp);
    assert.equal(check.code, 0, check.stderr);
    // `import 'postrider'` through the package's exports.
    const app = join(tmp, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(join(prefix, 'lib', 'node_modules', 'postrider'), join(app, 'node_modules', 'postrider'));
    writeFileSync(join(app, 'use.mjs'), "import { startMailSystem, runCommand, loadConfig } from 'postrider';\nconsole.log(typeof startMailSystem, typeof runCommand, typeof loadConfig);\n");
    const used = await run(process.execPath, [join(app, 'use.mjs')], app);
    assert.equal(used.code, 0, used.stderr);
    assert.equal(used.stdout, 'function function function\n');
    assert.ok(existsSync(join(prefix, 'lib', 'node_modules', 'postrider', 'dist', 'src', 'cli', 'api.d.ts')), 'type declarations');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the systemd unit passes systemd-analyze verify', { skip: onPath('systemd-analyze') ? undefined : 'systemd-analyze is not installed (Debian package systemd)' }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'postrider-unit-'));
  try {
    // verify wants the commands to exist: a stand-in at the path the unit names is substituted.
    const stand = join(tmp, 'postrider');
    writeFileSync(stand, '#!/bin/sh\nexit 0\n');
    chmodSync(stand, 0o755);
    const unit = readFileSync(join(ROOT, 'systemd', 'postrider.service'), 'utf8');
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^NotifyAccess=all$/m);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/postrider start-fg$/m);
    assert.doesNotMatch(unit, /^PIDFile=/m);
    // the README's logging: syslog with the role tags, as under `postrider start`
    assert.match(unit, /^Environment=.*\bPOSTRIDER_LOG=syslog\b/m);
    assert.match(unit, /^ExecReload=\/usr\/local\/bin\/postrider reload$/m);
    writeFileSync(join(tmp, 'postrider.service'), unit.replaceAll('/usr/local/bin/postrider', stand));
    // --man=no: the pages named by Documentation= are not installed on a test machine.
    const r = await run('systemd-analyze', ['verify', '--man=no', join(tmp, 'postrider.service')], tmp);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
