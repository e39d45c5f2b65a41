/**
 * Facts about the host that decide whether (and how) a sandbox can be created. Cheap checks only:
 * `warden run` calls these on every start; `warden doctor` adds real probes on top.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxUser } from './spec.js';

/** Trusted directories searched for helper binaries (never $PATH: it may be attacker-influenced). */
const BINARY_DIRS = ['/usr/bin', '/bin', '/usr/local/bin'];

/**
 * Finds a helper binary. `override` (from an environment variable such as WARDEN_BWRAP) replaces
 * the search; it exists so tests and unusual installs can point at another build.
 */
export function findBinary(name: string, override?: string): string | null {
  const candidates = override !== undefined && override !== '' ? [override] : BINARY_DIRS.map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      const st = statSync(candidate);
      if (st.isFile() && isTrustedBinary(st.uid, st.mode)) return candidate;
    } catch {
      // not here; try the next
    }
  }
  return null;
}

/**
 * Warden runs this binary with its own privileges (root, when it is root): it must belong to root
 * or to warden's own user, and nobody else may rewrite it. An override such as
 * WARDEN_BWRAP=/tmp/bwrap that another user could replace is therefore refused.
 */
export function isTrustedBinary(ownerUid: number, mode: number, wardenUid: number = process.getuid?.() ?? 0): boolean {
  return (ownerUid === 0 || ownerUid === wardenUid) && (mode & 0o022) === 0;
}

/** Looks a user up in /etc/passwd (the sandbox user is a local system user created by setup). */
export function lookupUser(name: string, passwdPath = '/etc/passwd'): SandboxUser | null {
  let text: string;
  try {
    text = readFileSync(passwdPath, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length >= 7) {
      // Plain decimal only: Number('') is 0 (root), and Number also accepts ' 12', '0x10', '1e3'.
      // A malformed entry is ignored rather than read as some other (possibly privileged) id.
      const uidText = fields[2] ?? '';
      const gidText = fields[3] ?? '';
      if (!/^\d{1,10}$/.test(uidText) || !/^\d{1,10}$/.test(gidText)) continue;
      const uid = Number(uidText);
      const gid = Number(gidText);
      // 4294967295 is (uid_t)-1, "no id" to the kernel; anything above does not fit a uid_t.
      if (uid < 0xffffffff && gid < 0xffffffff) return { name, uid, gid };
    }
  }
  return null;
}

export type CgroupController = 'memory' | 'pids' | 'cpu';
export const CGROUP_CONTROLLERS: readonly CgroupController[] = ['memory', 'pids', 'cpu'];

export interface CgroupLayout {
  /** 'v1' when a legacy controller hierarchy is mounted; 'v2' when only the unified one is. */
  readonly version: 'v1' | 'v2' | 'none';
  /** Mount point of each v1 controller hierarchy. */
  readonly mounts: Readonly<Partial<Record<CgroupController, string>>>;
  /**
   * Mount point of the cgroup2 (unified) hierarchy, when one is mounted: on a v2 host the only
   * one; on a hybrid host (like systemd's "hybrid" mode) it usually holds no limiting controller.
   */
  readonly unified: string | null;
}

/** Reads the cgroup mounts from /proc/self/mountinfo. */
export function cgroupLayout(mountinfo = '/proc/self/mountinfo'): CgroupLayout {
  let text = '';
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return { version: 'none', mounts: {}, unified: null };
  }
  const mounts: Partial<Record<CgroupController, string>> = {};
  let unified: string | null = null;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const mountPoint = pre[4];
    // mountinfo escapes blanks in paths as octal (\040); such a path is never a cgroup mount warden uses.
    if (mountPoint === undefined || !mountPoint.startsWith('/') || mountPoint.includes('\\')) continue;
    if (post[0] === 'cgroup2' && unified === null) unified = mountPoint;
    if (post[0] !== 'cgroup') continue;
    const options = (post[2] ?? '').split(',');
    for (const controller of CGROUP_CONTROLLERS) {
      if (options.includes(controller) && mounts[controller] === undefined) mounts[controller] = mountPoint;
    }
  }
  if (Object.keys(mounts).length > 0) return { version: 'v1', mounts, unified };
  return { version: unified !== null ? 'v2' : 'none', mounts, unified };
}

/** Whether the kernel lets unprivileged users create user namespaces (bwrap needs it). */
export function userNamespacesEnabled(): { readonly enabled: boolean; readonly detail: string } {
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const max = read('/proc/sys/user/max_user_namespaces');
  if (max === '0') return { enabled: false, detail: 'user.max_user_namespaces is 0' };
  const debianSwitch = read('/proc/sys/kernel/unprivileged_userns_clone');
  if (debianSwitch === '0') return { enabled: false, detail: 'kernel.unprivileged_userns_clone is 0' };
  const apparmor = read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  if (apparmor === '1') return { enabled: false, detail: 'kernel.apparmor_restrict_unprivileged_userns is 1' };
  return { enabled: true, detail: `max_user_namespaces=${max ?? 'unknown'}` };
}

/** bwrap's version string, e.g. "0.8.0" (spawns `bwrap --version`; used by doctor only). */
export function parseBwrapVersion(output: string): string | null {
  const match = /bubblewrap\s+(\d+\.\d+(?:\.\d+)?)/.exec(output);
  return match?.[1] ?? null;
}
