/**
 * local-command: a "|command" delivery (alias, .forward, :include:,
 * mailbox_command), as Postfix's local(8) runs one: /bin/sh -c COMMAND as
 * the delivery's user (never root), in the user's home directory (else /),
 * with the environment local(8) sets and export_environment, the message
 * copy ("From " line, Return-Path and the other prepended headers, UNIX
 * line ends) on standard input, killed after command_time_limit. The exit
 * status is read as sysexits(3): 0 delivered, EX_TEMPFAIL (75) and
 * EX_OSERR (71) deferred, other sysexits and any other non-zero status
 * bounced, each with the command's output in the reason, as Postfix's
 * pipe_command words it. At the time limit the command and every process
 * it started (found through /proc) are killed. Never rejects.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnOptionsFor, type Privileges } from './local-privs.js';

/** What a command delivery ended in. */
export interface CommandOutcome {
  state: 'delivered' | 'deferred' | 'bounced';
  dsn: string;
  reason: string;
}

/** sysexits(3) codes: Postfix's sys_exits table (status, text). */
const SYS_EXITS: Record<number, [string, string]> = {
  64: ['5.3.0', 'command line usage error'],
  65: ['5.6.0', 'data format error'],
  66: ['5.3.0', 'cannot open input'],
  67: ['5.1.1', 'user unknown'],
  68: ['5.1.2', 'host name unknown'],
  69: ['5.3.0', 'service unavailable'],
  70: ['5.3.0', 'internal software error'],
  71: ['4.3.0', 'system resource problem'],
  72: ['5.3.0', 'critical OS file missing'],
  73: ['5.2.0', "can't create user output file"],
  74: ['5.3.0', 'input/output error'],
  75: ['4.3.0', 'temporary failure'],
  76: ['5.5.0', 'remote error in protocol'],
  77: ['5.7.0', 'permission denied'],
  78: ['5.3.5', 'local configuration error'],
};

/** The most command output a reason quotes. */
const OUTPUT_LIMIT = 512;

/** A command to run, and how. */
export interface CommandJob {
  command: string;
  privs: Privileges;
  /** The working directory (the user's home, when there is one). */
  cwd: string;
  env: Record<string, string>;
  timeLimitMs: number;
  copy: Buffer;
}

function outcomeOf(state: CommandOutcome['state'], dsn: string, reason: string): CommandOutcome {
  return { state, dsn, reason };
}

/** The pids of `pid`'s descendants, from /proc (empty where there is no /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parent.get(ppid) ?? [];
      list.push(Number(e));
      parent.set(ppid, list);
    } catch {
      // ended meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of parent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Kills a command and what it started (a shell's children would keep its pipes open). */
function killTree(pid: number): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Runs one command delivery. */
export function runCommand(job: CommandJob): Promise<CommandOutcome> {
  return new Promise((done) => {
    let ids;
    try {
      ids = spawnOptionsFor(job.privs);
    } catch (err) {
      done(outcomeOf('deferred', '4.3.0', (err as Error).message));
      return;
    }
    const child = spawn('/bin/sh', ['-c', job.command], { ...ids, cwd: job.cwd, env: job.env, stdio: ['pipe', 'pipe', 'pipe'], detached: false });
    let output = '';
    const keep = (c: Buffer): void => {
      if (output.length < OUTPUT_LIMIT) output += c.toString('utf8');
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(job.copy);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killTree(child.pid);
    }, job.timeLimitMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      done(outcomeOf('deferred', '4.3.0', `cannot run command "${job.command}": ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = output.slice(0, OUTPUT_LIMIT).replace(/\s+/g, ' ').trim();
      const said = text ? `. Command output: ${text}` : '';
      if (timedOut) return done(outcomeOf('bounced', '5.3.0', `Command time limit exceeded: "${job.command}"${said}`));
      if (signal) return done(outcomeOf('bounced', '5.3.0', `Command died with signal ${signal}: "${job.command}"${said}`));
      if (code === 0) return done(outcomeOf('delivered', '2.0.0', `delivered to command: ${job.command}`));
      const sys = SYS_EXITS[code ?? -1];
      if (sys) return done(outcomeOf(sys[0].startsWith('4') ? 'deferred' : 'bounced', sys[0], `${sys[1]}${said}`));
      done(outcomeOf('bounced', '5.3.0', `Command died with status ${code}: "${job.command}"${said}`));
    });
  });
}
