/**
 * local-users-kit: real system users for the local delivery tests, made
 * with useradd and removed with userdel (the tests run as root, as CI
 * does); a world-traversable scratch directory their processes can reach;
 * a LocalAgent around a message. `canMakeUsers` is false when not root:
 * the tests that need users skip with that reason.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalAgent } from '../../../src/actors/local/local-agent.js';
import { MainConfig } from '../../../src/config/main-config.js';
import type { DeliveryRequest } from '../../../src/protocol/protocol.js';
import { captureLog } from '../smtp/smtp-test-kit.js';

export const canMakeUsers = process.getuid?.() === 0;
export const NOT_ROOT = canMakeUsers ? false : 'needs root to create system users (useradd) and switch to them';

let serial = 0;
const made: string[] = [];

/** A scratch directory every user may traverse (mkdtemp makes 0700 ones). */
export function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-local-'));
  chmodSync(dir, 0o755);
  return dir;
}

/** A real user with a home under `base`; removed by removeUsers(). */
export function makeUser(base: string): { name: string; uid: number; gid: number; home: string } {
  const name = `prl${process.pid % 100000}x${++serial}`;
  const home = join(base, name);
  mkdirSync(home, { mode: 0o755 });
  execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', '-U', name], { stdio: 'ignore' });
  made.push(name);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  chownSync(home, uid, gid);
  return { name, uid, gid, home };
}

/** Removes every user this process made. */
export function removeUsers(): void {
  while (made.length) {
    const name = made.pop()!;
    try {
      execFileSync('userdel', [name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** A mail spool every user may write (as a 1777 /tmp is). */
export function spool(base: string): string {
  const dir = join(base, 'mail');
  mkdirSync(dir);
  chmodSync(dir, 0o1777);
  return dir;
}

export const MESSAGE = Buffer.from(
  'From: cron@example.org\r\nTo: root\r\nSubject: report\r\n\r\nFrom the nightly job:\r\nall fine.\r\n>From quoted already\r\n',
);

/** A LocalAgent on `params` (mydestination host.test), its log lines and the forwarded messages. */
export function localAgent(
  dir: string,
  params: Record<string, string>,
  content: Buffer = MESSAGE,
): { agent: LocalAgent; lines: string[]; forwarded: Array<{ sender: string; recipients: string[]; content: string }> } {
  const config = new MainConfig({ myhostname: 'host.test', myorigin: 'host.test', mydestination: 'host.test, localhost', alias_maps: '', ...params }, dir);
  const { log, lines } = captureLog();
  const forwarded: Array<{ sender: string; recipients: string[]; content: string }> = [];
  let n = 0;
  const agent = new LocalAgent({
    config,
    log,
    readContent: async () => content,
    forward: async (f) => {
      forwarded.push({ sender: f.sender, recipients: f.recipients, content: f.content.toString('latin1') });
      return `FWD${++n}`;
    },
  });
  return { agent, lines, forwarded };
}

/** A delivery request for the local transport. */
export function localRequest(to: string[], over: Partial<DeliveryRequest> = {}, content: Buffer = MESSAGE): DeliveryRequest {
  return {
    queueId: 'LOC123',
    sender: 'cron@example.org',
    arrivalTime: Date.now() - 50,
    activeTime: Date.now() - 20,
    location: { segment: 1, offset: 0, length: content.length },
    headerLength: content.indexOf('\r\n\r\n') + 4,
    size: content.length,
    transport: 'local',
    nexthop: 'host.test',
    recipients: to.map((address, index) => ({ address, index })),
    ...over,
  };
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
