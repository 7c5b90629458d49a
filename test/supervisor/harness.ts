/**
 * harness: builds a configuration by hand (the shape load-config returns)
 * in a fresh temporary directory, and the registry of the test roles.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterService } from '../../src/config/config-types.js';
import type { RoleSpec, SupervisorConfig } from '../../src/supervisor/role-registry.js';

export function tempDir(prefix = 'postrider-sup-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function service(name: string, command: string, opts: Partial<MasterService> = {}): MasterService {
  return {
    name,
    type: 'unix',
    private: true,
    unpriv: true,
    chroot: false,
    wakeup: '-',
    maxproc: null,
    command,
    args: [],
    overrides: {},
    file: 'master.cf',
    line: 1,
    ...opts,
  };
}

export function makeConfig(dir: string, master: MasterService[], params: Record<string, string> = {}): SupervisorConfig {
  return {
    dir,
    params: {
      queue_directory: join(dir, 'queue'),
      maillog_file: join(dir, 'maillog'),
      syslog_name: 'postrider',
      myhostname: 'test.example',
      debug_fault_injection: 'yes',
      ...params,
    },
    explicit: [],
    master,
    problems: [],
  };
}

const fixture = (name: string): URL => new URL(`./fixtures/${name}-actor.js`, import.meta.url);

/** echo (spare), caller -> echo, listen (its address known to reloads), broken, lock (singleton), keeper (echo, kept by reloads). */
export function testRegistry(opts: { spare?: boolean; memoryMb?: number } = {}): RoleSpec[] {
  return [
    {
      role: 'echo',
      entry: fixture('echo'),
      peers: [],
      defaultInstances: () => 2,
      spare: opts.spare ?? true,
      resourceLimits: { maxOldGenerationSizeMb: opts.memoryMb ?? 64 },
    },
    { role: 'caller', entry: fixture('caller'), peers: ['echo'], defaultInstances: () => 1, resourceLimits: { maxOldGenerationSizeMb: 64 } },
    {
      role: 'listen',
      entry: fixture('listen'),
      peers: [],
      defaultInstances: () => 1,
      listenAddress: (s) => ({ host: s.name.split(':')[0], port: Number(s.name.split(':')[1]) }),
    },
    { role: 'broken', entry: fixture('broken'), peers: [], defaultInstances: () => 1 },
    { role: 'lock', entry: fixture('lock'), peers: [], defaultInstances: () => 1, singleton: true },
    { role: 'keeper', entry: fixture('echo'), peers: [], defaultInstances: () => 1, singleton: true, keepOnReload: true, resourceLimits: { maxOldGenerationSizeMb: 64 } },
  ];
}

export function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'maillog'), 'utf8');
  } catch {
    return '';
  }
}
