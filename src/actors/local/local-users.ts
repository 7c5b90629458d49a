/**
 * local-users: the system's users, as local(8) sees them: getpwnam through
 * getent(1), so NSS sources answer too. lookupUser resolves to undefined for
 * a name the database does not list and rejects (a temporary failure for
 * the caller) when getent cannot answer.
 */
import { execFile } from 'node:child_process';

/** A passwd entry. */
export interface UserAttr {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Parses one passwd line ("name:x:uid:gid:gecos:home:shell"). */
export function parsePasswd(line: string): UserAttr | undefined {
  const f = line.trim().split(':');
  if (f.length < 7 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) return undefined;
  return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5], shell: f[6] };
}

/** getpwnam(name): the user, or undefined when there is none. */
export function lookupUser(name: string): Promise<UserAttr | undefined> {
  return new Promise((resolve, reject) => {
    // A name getent would read as an option or a uid is no user name.
    if (!name || name.startsWith('-') || /^\d+$/.test(name) || /[:\s/]/.test(name)) return resolve(undefined);
    execFile('getent', ['passwd', name], { timeout: 10_000 }, (err, stdout) => {
      if (err) {
        if ((err as { code?: unknown }).code === 2) return resolve(undefined);
        return reject(new Error(`user lookup for ${name}: ${err.message}`));
      }
      const user = parsePasswd(stdout.split('\n')[0] ?? '');
      resolve(user && user.name === name ? user : undefined);
    });
  });
}
