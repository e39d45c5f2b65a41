/**
 * `warden doctor`: checks every host requirement, runs one real sandbox probe (user namespace +
 * seccomp in force), and for each problem names the command that fixes it.
 */
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WardenConfig } from '../core/config.js';
import { DEFAULT_LIMITS } from '../core/config-defaults.js';
import { describeLimits } from '../core/limits.js';
import {
  buildSeccompFilter,
  findBinary,
  LimitsHost,
  limitsFix,
  isTrustedBinary,
  lookupUser,
  probeIdmapEndToEnd,
  probeIdmapFilesystem,
  parseBwrapVersion,
  userNamespacesEnabled,
  CGROUP_CONTROLLERS,
  type LimitsProbe,
  type SandboxUser,
} from '../sandbox/index.js';
import { defaultCpu, pickProfile } from './plan.js';
import { limitsPolicy } from './prepare-host.js';

export interface DoctorCheck {
  readonly name: string;
  readonly ok: boolean;
  /** Warnings do not stop `warden run` (ok is true) but deserve attention. */
  readonly warning?: boolean;
  readonly detail: string;
  /** The command or step that fixes it, when not ok. */
  readonly fix?: string;
}

const SETUP = 'sudo scripts/setup.sh';

/** Runs all checks. `stateDir` is where the audit log would live. */
export function runDoctor(
  config: WardenConfig,
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
  assetsDir: string | null = null,
): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const uid = process.getuid?.() ?? -1;
  const add = (check: DoctorCheck): void => {
    checks.push(check);
  };

  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  add({
    name: 'node',
    ok: major > 20 || (major === 20 && minor >= 18),
    detail: `Node ${process.versions.node}`,
    fix: 'install Node.js 20.18 or newer',
  });
  add({
    name: 'linux',
    ok: process.platform === 'linux',
    detail: `${process.platform} ${process.arch}`,
    fix: 'warden sandboxes need Linux',
  });

  const bwrap = findBinary('bwrap', env.WARDEN_BWRAP);
  let bwrapVersion: string | null = null;
  if (bwrap !== null)
    bwrapVersion = parseBwrapVersion(spawnSync(bwrap, ['--version'], { encoding: 'utf8' }).stdout ?? '');
  add({
    name: 'bubblewrap',
    ok: bwrap !== null && bwrapVersion !== null && versionAtLeast(bwrapVersion, [0, 8, 0]),
    detail: bwrap === null ? 'bwrap not found' : `${bwrap} ${bwrapVersion ?? '(unknown version)'}`,
    fix: `apt-get install bubblewrap (0.8 or newer), or ${SETUP}`,
  });

  // socat is only the fallback forwarder, for a build without the native init.
  const socat = findBinary('socat');
  const nativeInit = assetsDir !== null && existsSync(join(assetsDir, 'warden-init'));
  add({
    name: 'socat',
    ok: socat !== null || nativeInit,
    detail:
      socat ??
      (nativeInit
        ? 'not installed; not needed (the native warden-init forwards the proxy port)'
        : 'socat not found in /usr/bin, and warden-init was not built'),
    fix: `apt-get install socat, or ${SETUP}`,
  });

  const userns = userNamespacesEnabled();
  add({
    name: 'user namespaces',
    ok: userns.enabled,
    detail: userns.detail,
    fix: 'sysctl -w user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 on Debian kernels that have it)',
  });

  let probeUser: SandboxUser | null = null;
  if (uid === 0) {
    const user = lookupUser(config.sandbox.user);
    add({
      name: 'sandbox user',
      ok: user !== null && user.uid !== 0,
      detail:
        user === null
          ? `user '${config.sandbox.user}' does not exist`
          : `${user.name} (uid ${user.uid}, gid ${user.gid})`,
      fix: SETUP,
    });
    if (user !== null) probeUser = user;
  } else {
    add({
      name: 'sandbox user',
      ok: true,
      detail: `warden runs as uid ${uid}; sandboxes run as this user inside their own user namespace`,
    });
  }

  checks.push(...limitsChecks(config, uid));

  // A real sandbox: user namespace, no network, the seccomp filter in force.
  if (bwrap !== null && userns.enabled && (uid !== 0 || probeUser !== null)) add(probeSandbox(bwrap, probeUser));
  add(idmapCheck(uid, probeUser, assetsDir));

  add(stateDirCheck(stateDir));
  return checks;
}

/**
 * What holds a run's limits here (the default profile's values), which backend each would use,
 * and whether a run would go ahead: a limit no cgroup holds for the whole sandbox fails the check
 * under the `required` policy (runs are refused) and warns under `best-effort`.
 */
function limitsChecks(config: WardenConfig, uid: number): DoctorCheck[] {
  const policy = limitsPolicy(config, uid);
  const host = LimitsHost.probe(uid, policy, {}, true);
  const profile = pickProfile(config, 'default');
  const plan = host.plan(
    {
      memoryBytes: profile.limits.memory ?? DEFAULT_LIMITS.memoryBytes,
      pids: profile.limits.pids ?? DEFAULT_LIMITS.pids,
      cpu: profile.limits.cpu ?? defaultCpu(),
    },
    'best-effort',
  );
  const partial = plan.enforcement.filter((e) => e.scope !== 'sandbox');
  const refused = policy === 'required' && partial.length > 0;
  const [held = '', missing = ''] = describeLimits(plan.enforcement);
  const verdict = refused
    ? 'runs are refused (LIMITS_UNAVAILABLE) under the policy required'
    : partial.length > 0
      ? 'runs go ahead under the policy best-effort, and their summary says which limits hold'
      : `policy ${policy}`;
  return [
    { name: 'cgroups', ok: true, detail: describeCgroups(host.probe) },
    {
      name: 'limits',
      ok: !refused,
      ...(partial.length > 0 && !refused ? { warning: true } : {}),
      detail: [held.replace(/^limits: /, ''), missing, verdict].filter((t) => t !== '').join('; '),
      ...(partial.length > 0 ? { fix: limitsFix(host.probe, refused) } : {}),
    },
  ];
}

/** The cgroup hierarchies and what this user may do in them, in one line. */
function describeCgroups(probe: LimitsProbe): string {
  const parts: string[] = [];
  if (probe.layout.version === 'v1') {
    const usable = CGROUP_CONTROLLERS.filter((c) => 'parent' in probe.v1[c]);
    if (usable.length > 0)
      parts.push(
        `v1 ${usable.join(', ')} usable (run groups in <controller>/${usable.map((c) => relativeParent(probe, c))[0] ?? ''})`,
      );
    const byReason = new Map<string, string[]>();
    for (const c of CGROUP_CONTROLLERS) {
      const place = probe.v1[c];
      if ('reason' in place) byReason.set(place.reason, [...(byReason.get(place.reason) ?? []), c]);
    }
    for (const [reason, controllers] of byReason) parts.push(`v1 ${controllers.join(', ')}: ${reason}`);
  } else {
    parts.push('v1 not mounted');
  }
  parts.push(
    probe.v2.usable
      ? `v2: run groups in ${probe.v2.parent} (${probe.v2.kind === 'root' ? 'made by root' : "warden's own delegated cgroup"}), offering ${probe.v2.controllers.join(', ') || 'none of memory, pids, cpu'}`
      : `v2: ${probe.v2.reason}`,
  );
  return parts.join('; ');
}

/** Where v1 run groups of `controller` go, relative to its mount. */
function relativeParent(probe: LimitsProbe, controller: (typeof CGROUP_CONTROLLERS)[number]): string {
  const place = probe.v1[controller];
  const mount = probe.layout.mounts[controller] ?? '';
  return 'parent' in place ? place.parent.slice(mount.length + 1) : '';
}

function probeSandbox(bwrap: string, user: { uid: number; gid: number } | null): DoctorCheck {
  let seccomp: Buffer;
  try {
    seccomp = buildSeccompFilter().bytes;
  } catch (error) {
    return { name: 'sandbox probe', ok: false, detail: (error as Error).message, fix: 'run warden on x86_64' };
  }
  // spawnSync can only feed stdin, so the filter goes in an unlinked temp file passed as fd 3.
  const dir = mkdtempSync(join(tmpdir(), 'warden-doctor-'));
  const file = join(dir, 'seccomp.bpf');
  writeFileSync(file, seccomp, { mode: 0o600 });
  const fd = openSync(file, 'r');
  rmSync(dir, { recursive: true, force: true });
  try {
    const args = [
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--new-session',
      '--cap-drop',
      'ALL',
      '--seccomp',
      '3',
      '--ro-bind',
      '/usr',
      '/usr',
      '--symlink',
      'usr/bin',
      '/bin',
      '--symlink',
      'usr/lib',
      '/lib',
      '--symlink',
      'usr/lib64',
      '/lib64',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--',
      '/bin/cat',
      '/proc/self/status',
    ];
    const result = spawnSync(bwrap, args, {
      stdio: ['ignore', 'pipe', 'pipe', fd],
      encoding: 'utf8',
      timeout: 10_000,
      ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
    });
    const status = result.stdout ?? '';
    const filtered = /^Seccomp:\s*2$/m.test(status);
    const noCaps = /^CapEff:\s*0+$/m.test(status);
    if (result.status === 0 && filtered && noCaps) {
      return {
        name: 'sandbox probe',
        ok: true,
        detail: 'bwrap started a sandbox: own user/pid/net namespaces, no capabilities, seccomp filter in force',
      };
    }
    const why = (result.stderr ?? '').trim().split('\n').pop() ?? '';
    return {
      name: 'sandbox probe',
      ok: false,
      detail:
        why !== ''
          ? why
          : `bwrap exited ${String(result.status)} (seccomp ${filtered ? 'on' : 'off'}, caps ${noCaps ? 'none' : 'present'})`,
      fix: 'fix the checks above; if they pass, user namespaces may be blocked by a security module (AppArmor/SELinux)',
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * As root: whether workspaces owned by someone else work (the helper idmaps them; see
 * src/sandbox/idmap.ts). A real probe through the helper in a root-owned temp directory, then the
 * current directory's filesystem when it is another one. Missing support is a warning: runs in
 * directories the sandbox user owns still work.
 */
function idmapCheck(uid: number, user: SandboxUser | null, assetsDir: string | null): DoctorCheck {
  const name = 'idmapped mounts';
  if (uid !== 0) return { name, ok: true, detail: `not used: warden runs as uid ${uid}, and its sandboxes run as you` };
  if (user === null) return { name, ok: true, warning: true, detail: 'not probed: no sandbox user' };
  const fallback = `where they are missing, give the sandbox user the workspace (\`chown -R ${user.name} DIR\`) or run warden as its owner`;
  const helper = assetsDir === null ? null : join(assetsDir, 'warden-idmap');
  if (helper === null || !existsSync(helper))
    return {
      name,
      ok: true,
      warning: true,
      detail: 'warden-idmap was not built: workspaces owned by anyone but the sandbox user are refused',
      fix: `rebuild warden with a C compiler (npm run build); ${fallback}`,
    };
  const st = statSync(helper);
  if (!isTrustedBinary(st.uid, st.mode, uid))
    return {
      name,
      ok: false,
      detail: `${helper} is not root's or is writable by others; warden will not run it as root`,
      fix: `chown root ${helper} && chmod go-w ${helper}`,
    };
  const probe = probeIdmapEndToEnd(helper, user);
  if (!probe.ok)
    return {
      name,
      ok: true,
      warning: true,
      detail: `not available here (${probe.detail}): workspaces owned by anyone but ${user.name} are refused`,
      fix: `Linux 5.12 or newer with a filesystem that supports them (ext4, xfs, btrfs; tmpfs from 6.3); ${fallback}`,
    };
  const cwd = process.cwd();
  if (statSync(cwd).dev !== statSync(tmpdir()).dev) {
    const here = probeIdmapFilesystem(helper, cwd);
    if (!here.ok)
      return {
        name,
        ok: true,
        warning: true,
        detail: `${probe.detail}; but the filesystem of ${cwd} refuses them (${here.detail})`,
        fix: fallback,
      };
  }
  return { name, ok: true, detail: probe.detail };
}

function stateDirCheck(stateDir: string): DoctorCheck {
  if (!existsSync(stateDir)) return { name: 'state dir', ok: true, detail: `${stateDir} (created on first run)` };
  const st = statSync(stateDir);
  const safe = (st.mode & 0o022) === 0;
  return {
    name: 'state dir',
    ok: safe && isWritable(stateDir),
    detail: `${stateDir} mode ${(st.mode & 0o777).toString(8)}`,
    fix: `chmod 700 ${stateDir}`,
  };
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    const have = parts[i] ?? 0;
    const want = min[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}
