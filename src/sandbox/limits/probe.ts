/**
 * Which limit backends this host offers this user, found without changing anything: cheap reads
 * of mountinfo, /proc/self/cgroup and a few cgroup files (`warden run` probes on every start).
 *
 * cgroup v1 (hosts like this one, and systemd's hybrid mode): root makes `<mount>/warden/<run>`;
 * an ordinary user needs the subtree `<mount>/warden/user-<uid>` that `scripts/setup.sh
 * --delegate-user` chowned to them.
 *
 * cgroup v2 (Debian 12, Ubuntu, Fedora): root makes `<mount>/warden/<run>`. An ordinary user can
 * only move processes between cgroups below one it owns (the kernel checks the common ancestor),
 * so a subtree root made for them elsewhere is useless: warden uses the cgroup it was started in,
 * when that cgroup is its own. That is what `systemd-run --user --scope -p Delegate=yes -- warden …`
 * gives (a scope holding warden alone, chowned to the user), and what a user service with
 * `Delegate=yes` whose main process is warden gives. Warden then moves itself into a leaf
 * (SUPERVISOR_LEAF) and makes each run's cgroup beside it (cgroup-v2.ts).
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CGROUP_CONTROLLERS, cgroupLayout, type CgroupController, type CgroupLayout } from '../host.js';

/** The leaf warden moves itself into when it splits its own cgroup v2 (runs go beside it). */
export const SUPERVISOR_LEAF = 'warden-supervisor';

/** Where a v1 run group of one controller goes, or why it cannot. */
export type V1Place = { readonly parent: string } | { readonly reason: string };

/** Where this user's v2 run groups go, or why they cannot. */
export type V2Place =
  | {
      readonly usable: true;
      /** `root`: warden made `<mount>/warden`; `delegated`: warden's own cgroup, owned by the user. */
      readonly kind: 'root' | 'delegated';
      readonly mount: string;
      /** The directory run groups are made in. */
      readonly parent: string;
      /** Limiting controllers the parent may enable for its children (its cgroup.controllers). */
      readonly controllers: readonly CgroupController[];
      /** True when warden still shares `parent` and must move into SUPERVISOR_LEAF first. */
      readonly split: boolean;
    }
  | { readonly usable: false; readonly reason: string };

/** What the host offers, per backend. */
export interface LimitsProbe {
  readonly uid: number;
  readonly layout: CgroupLayout;
  readonly v1: Readonly<Record<CgroupController, V1Place>>;
  readonly v2: V2Place;
}

/** Files the probe reads; tests point them at a tree that imitates cgroupfs. */
export interface ProbeSources {
  readonly mountinfo?: string;
  readonly selfCgroup?: string;
  /** This process's pid (the only one allowed in a v2 cgroup warden splits). */
  readonly pid?: number;
}

/**
 * Probes the limit backends for `uid` (the user warden runs as). cgroup v2 is looked at only when
 * v1 does not hold all three controllers, unless `full` (doctor): on a v1 host it would hold none,
 * and a run should not pay for the look (~0.5 ms).
 */
export function probeLimits(uid: number, sources: ProbeSources = {}, full = false): LimitsProbe {
  const layout = cgroupLayout(sources.mountinfo);
  const v1 = Object.fromEntries(CGROUP_CONTROLLERS.map((c) => [c, v1Place(layout, c, uid)])) as Record<
    CgroupController,
    V1Place
  >;
  const v2: V2Place =
    layout.unified === null
      ? { usable: false, reason: 'no cgroup v2 hierarchy is mounted' }
      : !full && CGROUP_CONTROLLERS.every((c) => 'parent' in v1[c])
        ? { usable: false, reason: 'not looked at: cgroup v1 holds memory, pids and cpu' }
        : v2Place(layout.unified, uid, sources.selfCgroup ?? '/proc/self/cgroup', sources.pid ?? process.pid);
  return { uid, layout, v1, v2 };
}

/** Where this user's v1 groups of `controller` go (root: `<mount>/warden`, made at run time). */
export function cgroupV1Parent(mount: string, uid: number): string {
  return uid === 0 ? join(mount, 'warden') : join(mount, 'warden', `user-${uid}`);
}

function v1Place(layout: CgroupLayout, controller: CgroupController, uid: number): V1Place {
  const mount = layout.mounts[controller];
  if (mount === undefined) {
    return {
      reason:
        layout.version === 'v1'
          ? `the cgroup v1 ${controller} controller is not mounted`
          : 'cgroup v1 is not mounted on this host',
    };
  }
  const parent = cgroupV1Parent(mount, uid);
  if (uid === 0) {
    return writable(mount) ? { parent } : { reason: `${mount} is not writable (mounted read-only?)` };
  }
  // No exception for the usual answer (not delegated): a thrown ENOENT costs more than the stat.
  if (statSync(parent, { throwIfNoEntry: false })?.uid === uid) return { parent };
  return { reason: `no cgroup v1 subtree is delegated to uid ${uid}` };
}

function v2Place(mount: string, uid: number, selfCgroup: string, pid: number): V2Place {
  if (uid === 0) {
    if (!writable(mount)) return { usable: false, reason: `${mount} is not writable (mounted read-only?)` };
    return {
      usable: true,
      kind: 'root',
      mount,
      parent: join(mount, 'warden'),
      controllers: rootControllers(mount),
      split: false,
    };
  }
  const own = ownCgroup(selfCgroup);
  if (own === null) return { usable: false, reason: 'warden is not in a cgroup v2 hierarchy' };
  const ownDir = join(mount, own);
  // Already split (warden, or the process that started it, lives in the leaf): runs go beside it.
  const split = basename(ownDir) !== SUPERVISOR_LEAF;
  const parent = split ? ownDir : dirname(ownDir);
  const shown = split ? own : dirname(own);
  const owner = statSync(parent, { throwIfNoEntry: false })?.uid ?? -1;
  if (owner !== uid || !writable(parent, 'cgroup.procs', 'cgroup.subtree_control')) {
    return {
      usable: false,
      reason: `warden's cgroup ${shown} is not delegated to uid ${uid} (start warden under \`systemd-run --user --scope -p Delegate=yes\`)`,
    };
  }
  if (split) {
    const others = readPids(join(parent, 'cgroup.procs')).filter((p) => p !== pid);
    if (others.length > 0) {
      return {
        usable: false,
        reason: `warden's cgroup ${shown} holds ${others.length} other process${others.length === 1 ? '' : 'es'}; warden uses a cgroup v2 it is alone in (start it with \`systemd-run --user --scope -p Delegate=yes\`)`,
      };
    }
  }
  return { usable: true, kind: 'delegated', mount, parent, controllers: controllersOf(parent), split };
}

/**
 * The controllers root can hand to `<mount>/warden`: those enabled at the mount's root already, and
 * the others it lists when they can be enabled. They cannot when the mount's root is not the
 * host's root cgroup (it has a cgroup.type file: a container's cgroup namespace) and holds
 * processes: the kernel refuses controllers for the children of a cgroup with processes in it.
 */
function rootControllers(mount: string): CgroupController[] {
  const available = controllersOf(mount);
  let enabled = new Set<string>();
  try {
    enabled = new Set(readFileSync(join(mount, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/));
  } catch {
    // unreadable: judged by the rule below
  }
  const nested = statSync(join(mount, 'cgroup.type'), { throwIfNoEntry: false }) !== undefined;
  const canEnable = !nested || readPids(join(mount, 'cgroup.procs')).length === 0;
  return available.filter((c) => enabled.has(c) || canEnable);
}

/** The v2 path of this process (`0::/path` in /proc/self/cgroup), or null. */
function ownCgroup(selfCgroup: string): string | null {
  let text: string;
  try {
    text = readFileSync(selfCgroup, 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('0::/'));
  if (line === undefined) return null;
  const path = line.slice(3);
  // A removed cgroup reads "/path (deleted)"; a path warden cannot name safely is not used.
  if (path.includes(' ') || path.split('/').includes('..')) return null;
  return path;
}

/** The limiting controllers listed in a v2 cgroup's cgroup.controllers. */
export function controllersOf(dir: string): CgroupController[] {
  let text = '';
  try {
    text = readFileSync(join(dir, 'cgroup.controllers'), 'utf8');
  } catch {
    return [];
  }
  const listed = new Set(text.trim().split(/\s+/));
  return CGROUP_CONTROLLERS.filter((c) => listed.has(c));
}

/** The pids in a cgroup.procs file (empty when unreadable). */
export function readPids(procsFile: string): number[] {
  try {
    return readFileSync(procsFile, 'utf8')
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  } catch {
    return [];
  }
}

function writable(dir: string, ...files: string[]): boolean {
  try {
    accessSync(dir, constants.W_OK);
    for (const file of files) accessSync(join(dir, file), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
