/**
 * reuse-port: whether this Node can put several listening sockets on one
 * address with the listen option reusePort (Node >= 22.12 or >= 23.1, on
 * Linux, FreeBSD, Solaris and AIX; elsewhere Node throws). Without it an
 * inet service runs one smtpd thread (role-registry planSlots) and the
 * supervisor says so once.
 *
 * POSTRIDER_TEST_NO_REUSEPORT=1 makes it answer "no", so the test suite can
 * check the one-thread fallback on a Node that has the option; it is for
 * tests only, never a setting. Nothing here throws.
 */

/** The answer, and why not. */
export interface ReusePortSupport {
  supported: boolean;
  /** Why not, for the warning. */
  reason?: string;
}

const PLATFORMS: readonly string[] = ['linux', 'freebsd', 'sunos', 'aix'];

/** True when `version` ("22.12.0") has the listen option reusePort. */
export function versionHasReusePort(version: string): boolean {
  const [major, minor] = version.split('.').map((x) => Number(x));
  if (!Number.isFinite(major) || !Number.isFinite(minor)) return false;
  if (major === 22) return minor >= 12;
  if (major === 23) return minor >= 1;
  return major > 23;
}

/** Whether this process can use reusePort. */
export function reusePortSupport(env: NodeJS.ProcessEnv = process.env, version = process.versions.node, platform: string = process.platform): ReusePortSupport {
  if (env.POSTRIDER_TEST_NO_REUSEPORT === '1') return { supported: false, reason: 'reusePort turned off by POSTRIDER_TEST_NO_REUSEPORT (tests only)' };
  if (!versionHasReusePort(version)) return { supported: false, reason: `Node v${version} has no listen option reusePort (Node >= 22.12 needed)` };
  if (!PLATFORMS.includes(platform)) return { supported: false, reason: `the listen option reusePort is not supported on ${platform}` };
  return { supported: true };
}
