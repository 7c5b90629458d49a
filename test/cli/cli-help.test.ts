/**
 * The command line itself: --help for every command and subcommand (from
 * the same table as the man pages), help COMMAND, --version, bad options
 * (one line, exit 2), options after positionals, a closed standard output,
 * config's postconf modes (-e -X -# -h -M -P), init and saslpasswd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, type CommandSpec } from '../../src/cli/cli-commands-table.js';
import { optionLabel } from '../../src/cli/cli-help.js';
import { configDir, MAIN, postrider } from './cli-harness.js';

function flagsOf(cmd: CommandSpec): string[] {
  return cmd.options.map((o) => optionLabel(o).split(' ')[0]);
}

test('--help of every command and subcommand exits 0 and lists its options', async () => {
  const top = await postrider(['--help']);
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c.name} `, 'm'));
  for (const c of COMMANDS) {
    const lines: Array<[string[], CommandSpec]> = [[[c.name, '--help'], c]];
    for (const s of c.subcommands ?? []) lines.push([[c.name, s.name, '--help'], s]);
    for (const [args, spec] of lines) {
      const r = await postrider(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^usage: postrider \\[-c DIR\\] ${args.slice(0, -1).join(' ')}`), args.join(' '));
      for (const flag of [...flagsOf(spec), '-c', '--version']) assert.ok(r.stdout.includes(flag), `${args.join(' ')} lists ${flag}`);
    }
  }
  // help COMMAND [SUBCOMMAND] prints the same text.
  const viaHelp = await postrider(['help', 'queue', 'show']);
  const viaFlag = await postrider(['queue', 'show', '--help']);
  assert.equal(viaHelp.code, 0);
  assert.equal(viaHelp.stdout, viaFlag.stdout);
  const bench = await postrider(['bench', 'run', '--help']);
  assert.match(bench.stdout, /--compare-start CMD/);
});

test('--version names the version, Node.js and the configuration directory', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = await postrider(['-c', '/tmp/some-config', '--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `postrider ${pkg.version}\nnode ${process.version}\nconfig_directory = /tmp/some-config\n`);
});

test('a bad option, command or argument count is one line and exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--bogus'], /^postrider: fatal: unknown option '--bogus'/],
    [['status', '--bogus'], /^postrider: fatal: status: unknown option '--bogus'/],
    [['queue', 'show', 'ID', '--frob'], /^postrider: fatal: queue show: unknown option '--frob'/],
    [['config', '-e'], /^postrider: fatal: config: -e needs at least one name=value/],
    [['config', '-e', 'not a setting'], /bad parameter setting/],
    [['config', '-e', '-X', 'a=b'], /do not go together/],
    [['help', 'nosuch'], /unknown command: nosuch/],
    [['saslpasswd', 'onlyfile'], /usage: postrider saslpasswd FILE USER/],
    [['init'], /usage: postrider init DIR/],
    [[], /no command given/],
  ];
  for (const [args, pattern] of cases) {
    const r = await postrider(['-c', '/nonexistent', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
});

test('options go anywhere: queue show ID --headers, -c after the command', async () => {
  const c = configDir('', '');
  try {
    // The queue is empty, so the id is unknown: what matters is that the options parsed.
    const r = await postrider(['queue', 'show', 'NOSUCHID1234', '--headers', '-c', c.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^postrider: fatal: .*NOSUCHID1234.*not found/);
  } finally {
    c.cleanup();
  }
});

/** Runs postrider with its standard output closed by the reader before it writes. */
function withClosedOutput(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('a closed standard output ends the command quietly (queue | head -1)', async () => {
  const c = configDir('', '');
  try {
    assert.equal((await postrider(['-c', c.dir, 'check'])).code, 0);
    for (const args of [['-c', c.dir, 'queue'], ['--help'], ['-c', c.dir, 'config']]) {
      const r = await withClosedOutput(args);
      assert.equal(r.stderr, '', args.join(' '));
      assert.equal(r.code, 0, args.join(' '));
    }
    const piped = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('/bin/sh', ['-c', `"${process.execPath}" "${MAIN}" -c "${c.dir}" config -d | head -1`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(piped.stderr, '');
    assert.equal(piped.stdout.split('\n').length, 2);
    const queued = await new Promise<string>((resolve) => {
      const child = spawn('/bin/sh', ['-c', `"${process.execPath}" "${MAIN}" -c "${c.dir}" queue | head -1`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', () => resolve(stderr));
    });
    assert.equal(queued, '');
  } finally {
    c.cleanup();
  }
});

test('config -e, -X and -# edit main.cf in place, keeping comments and order; -h prints values', async () => {
  const c = configDir('', '');
  try {
    const original = [
      '# The host name.',
      'myhostname = old.example',
      '',
      '# Relaying.',
      'mynetworks = 127.0.0.0/8',
      '    [::1]/128',
      'queue_directory = queue',
      '# The end.',
      '',
    ].join('\n');
    writeFileSync(join(c.dir, 'main.cf'), original);
    const e = await postrider(['-c', c.dir, 'config', '-e', 'myhostname=mx.example', 'mynetworks = 10.0.0.0/8', 'relayhost=[relay.example]']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(
      readFileSync(join(c.dir, 'main.cf'), 'utf8'),
      ['# The host name.', 'myhostname = mx.example', '', '# Relaying.', 'mynetworks = 10.0.0.0/8', 'queue_directory = queue', '# The end.', 'relayhost = [relay.example]', ''].join('\n'),
    );
    const h = await postrider(['-c', c.dir, 'config', '-h', 'myhostname', 'relayhost']);
    assert.equal(h.stdout, 'mx.example\n[relay.example]\n');
    assert.equal((await postrider(['-c', c.dir, 'config', '-#', 'relayhost'])).code, 0);
    assert.equal((await postrider(['-c', c.dir, 'config', '-X', 'mynetworks'])).code, 0);
    assert.equal(
      readFileSync(join(c.dir, 'main.cf'), 'utf8'),
      ['# The host name.', 'myhostname = mx.example', '', '# Relaying.', 'queue_directory = queue', '# The end.', '#relayhost = [relay.example]', ''].join('\n'),
    );
    const n = await postrider(['-c', c.dir, 'config', '-n']);
    assert.equal(n.stdout, 'myhostname = mx.example\nqueue_directory = queue\n');
  } finally {
    c.cleanup();
  }
});

test('config -M and -P print master.cf in postconf layout', async () => {
  const c = configDir('', ['# comment', 'smtp inet n - n - - smtpd', '  -o syslog_name=postrider/in', 'pickup unix n - n 60 1 pickup', ''].join('\n'));
  try {
    const m = await postrider(['-c', c.dir, 'config', '-M']);
    assert.equal(m.code, 0, m.stderr);
    assert.equal(
      m.stdout,
      'smtp       inet  n       -       n       -       -       smtpd -o syslog_name=postrider/in\n' +
        'pickup     unix  n       -       n       60      1       pickup\n',
    );
    const one = await postrider(['-c', c.dir, 'config', '-M', 'pickup/unix']);
    assert.equal(one.stdout, 'pickup     unix  n       -       n       60      1       pickup\n');
    const p = await postrider(['-c', c.dir, 'config', '-P']);
    assert.equal(p.stdout, 'smtp/inet/syslog_name = postrider/in\n');
  } finally {
    c.cleanup();
  }
});

test('init writes a commented configuration directory that check accepts, and never overwrites', async () => {
  const root = mkdtempSync(join(tmpdir(), 'postrider-init-'));
  try {
    const dir = join(root, 'conf');
    const r = await postrider(['init', dir, '--queue-directory', join(root, 'queue')]);
    assert.equal(r.code, 0, r.stderr);
    const main = readFileSync(join(dir, 'main.cf'), 'utf8');
    assert.match(main, /^# /m);
    assert.match(main, new RegExp(`^queue_directory = ${join(root, 'queue')}$`, 'm'));
    assert.match(readFileSync(join(dir, 'master.cf'), 'utf8'), /smtpd/);
    const check = await postrider(['-c', dir, 'check']);
    assert.equal(check.code, 0, check.stderr);
    const again = await postrider(['init', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /main\.cf exists; nothing written/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('saslpasswd reads the secret line from standard input and takes FILE relative to the current directory', async () => {
  const root = mkdtempSync(join(tmpdir(), 'postrider-sasl-'));
  try {
    writeFileSync(join(root, 'sasl_passwd'), '');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, '-c', '/nonexistent', 'saslpasswd', 'sasl_passwd', 'alice'], { cwd: root, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
      child.stdin.end('s3cret\n');
    });
    assert.equal(r.code, 0, r.stderr);
    const table = readFileSync(join(root, 'sasl_passwd'), 'utf8');
    assert.match(table, /^alice\s+scrypt\$/m);
    assert.ok(!table.includes('s3cret'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const PTY_SKIP = existsSync('/usr/bin/python3') ? undefined : '/usr/bin/python3 is not installed (it gives the command a terminal)';

// A terminal for the command: Python's pty module runs it and types the answers after each prompt.
const PTY_SCRIPT = `
import os, pty, sys, json
answers = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b''
for a in answers:
    while not out.rstrip().endswith(b':'):
        out += os.read(fd, 1024)
    os.write(fd, a.encode() + b'\\r')
    out += b'|'
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(json.dumps({'out': out.decode('utf-8', 'replace'), 'code': os.waitstatus_to_exitcode(status)}))
`;

function atTerminal(answers: string[], args: string[], cwd: string): Promise<{ out: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', PTY_SCRIPT, JSON.stringify(answers), process.execPath, MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', () => resolve(JSON.parse(stdout) as { out: string; code: number }));
  });
}

test('saslpasswd at a terminal asks twice without echo; two different answers change nothing', { skip: PTY_SKIP }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'postrider-sasl-tty-'));
  try {
    writeFileSync(join(root, 'sasl_passwd'), '');
    const ok = await atTerminal(['tty-secret', 'tty-secret'], ['saslpasswd', 'sasl_passwd', 'bob'], root);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /Password for bob:/);
    assert.match(ok.out, /Again \(for verification\):/);
    assert.ok(!ok.out.includes('tty-secret'), `the secret was echoed: ${ok.out}`);
    assert.match(readFileSync(join(root, 'sasl_passwd'), 'utf8'), /^bob\s+scrypt\$/m);
    const differ = await atTerminal(['one', 'two'], ['saslpasswd', 'sasl_passwd', 'carol'], root);
    assert.equal(differ.code, 1);
    assert.match(differ.out, /the two secrets differ; nothing changed/);
    assert.ok(!readFileSync(join(root, 'sasl_passwd'), 'utf8').includes('carol'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
