/**
 * The sandbox's filesystem, as an ordered list of bwrap mount operations. Order matters: bwrap
 * applies them in sequence and a later mount covers an earlier one, so the mandatory write-deny
 * list, then the profile's deny list, then the never-visible paths come last and always win
 * (SBX-06, SBX-04).
 *
 * The view: a read-only minimal root (/usr, the /etc entries programs need, generated
 * passwd/group/hosts/resolv.conf), /proc of the sandbox's own pid namespace with bwrap's
 * unfiltered pid 1 hidden, a private /dev, fresh tmpfs /tmp and $HOME, the workspace and the
 * profile's paths at their real paths, and nothing else.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { isNeverWritable } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';
import type { SandboxFile } from './ca-bundle.js';
import type { EtcView } from './etc-view.js';
import { gitLayout, type GitLayout } from './git-layout.js';
import { gitCodePaths, type RepoConfig } from './git-protect.js';
import {
  GIT_DIR_ENTRIES,
  PROTECTED_ENTRIES,
  WORKTREE_ENTRIES,
  type AbsentEntry,
  type HostExecBaseline,
  type NewEntryPolicy,
} from './host-exec.js';
import { namedScripts } from './named-scripts.js';
import { SANDBOX_HOME, SANDBOX_LIB, SANDBOX_PKG, SANDBOX_SOCK, type SandboxSpec } from './spec.js';

export { MANDATORY_WRITE_DENY } from './host-exec.js';

export type MountOp =
  | { readonly op: 'ro-bind' | 'bind' | 'ro-bind-try'; readonly src: string; readonly dest: string }
  | { readonly op: 'symlink'; readonly target: string; readonly dest: string }
  | { readonly op: 'tmpfs'; readonly dest: string; readonly sizeBytes?: number }
  | { readonly op: 'proc' | 'dev' | 'remount-ro'; readonly dest: string };

export interface MountPlan {
  readonly ops: readonly MountOp[];
  /**
   * Every host directory the sandbox can write: the workspace, `writable`, and the git
   * directories a checkout there needs (a linked worktree's or submodule's, see git-layout.ts).
   */
  readonly writableRoots: readonly string[];
  /** The protected entries, for the post-run check (nothing is created on the host for them). */
  readonly baseline: HostExecBaseline;
}

export interface PlanContext {
  /** Host directory bound read-only at /run/warden/lib (init script, preload, empty deny files). */
  readonly libDir: string;
  /** The prepared /etc (see etc-view.ts). */
  readonly etc: EtcView;
  /** An empty regular file with mode 0000: bound over files that must be unreadable. */
  readonly emptyFile: string;
  /** An empty directory with mode 0000: bound over directories that must be unreadable. */
  readonly emptyDir: string;
  /** Size of /tmp and $HOME tmpfs (they are charged to the memory limit anyway). */
  readonly tmpfsBytes: number | null;
  /** The host user's home, for git's global config and `~/` in git paths (see git-protect.ts); null to skip. */
  readonly hostHome?: string | null;
  /** Host files bound read-only at sandbox paths under /run/warden (copied CA bundles, see ca-bundle.ts). */
  readonly files?: readonly SandboxFile[];
}

/** Top-level entries that are symlinks into /usr on merged-/usr systems (Debian 12). */
const ROOT_ENTRIES = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * World-readable /proc files that leak host kernel state; masked. (The root-only ones container
 * runtimes also mask, such as kcore, kmsg and sysrq-trigger, are already closed to the sandbox's
 * unprivileged uid, and each mask costs start-up time.)
 */
const PROC_MASKED_FILES = ['timer_list', 'sched_debug'];

/** Builds the ordered mount plan for `spec`. Throws WardenError when a path cannot be protected. */
export function planMounts(spec: SandboxSpec, ctx: PlanContext): MountPlan {
  const ops: MountOp[] = [];
  const since = Date.now();

  // 1. Minimal read-only root.
  ops.push({ op: 'ro-bind', src: '/usr', dest: '/usr' });
  for (const entry of ROOT_ENTRIES) {
    const link = readLinkOrNull(entry);
    if (link !== null) ops.push({ op: 'symlink', target: link, dest: entry });
    else if (existsSync(entry)) ops.push({ op: 'ro-bind', src: entry, dest: entry });
  }
  ops.push({ op: 'ro-bind', src: ctx.etc.dir, dest: '/etc' });
  for (const dir of ctx.etc.directoryBinds) ops.push({ op: 'ro-bind', src: dir, dest: dir });

  // 2. Kernel interfaces: the sandbox's own /proc, with bwrap's pid 1 hidden (it runs without the
  // seccomp filter, so writing its memory through /proc/1/mem would escape the filter: SBX-10).
  ops.push({ op: 'proc', dest: '/proc' });
  ops.push({ op: 'tmpfs', dest: '/proc/1' });
  ops.push({ op: 'ro-bind', src: '/proc/sys', dest: '/proc/sys' });
  for (const name of PROC_MASKED_FILES)
    if (existsSync(join('/proc', name))) ops.push({ op: 'ro-bind', src: ctx.emptyFile, dest: join('/proc', name) });
  ops.push({ op: 'dev', dest: '/dev' });

  // 3. Disposable scratch space (SBX-17); $HOME too, unless the profile keeps a persistent one.
  ops.push(tmpfs('/tmp', ctx.tmpfsBytes));
  ops.push(tmpfs('/var/tmp', ctx.tmpfsBytes));
  if (spec.home === null) ops.push(tmpfs(SANDBOX_HOME, ctx.tmpfsBytes));
  else ops.push({ op: 'bind', src: persistentHome(spec), dest: SANDBOX_HOME });

  // 4. Warden's own plumbing, read-only.
  ops.push({ op: 'ro-bind', src: ctx.libDir, dest: SANDBOX_LIB });
  ops.push({ op: 'ro-bind', src: join(spec.runDir, 'sock'), dest: SANDBOX_SOCK });
  // Bound at warden's own paths, never at their host paths: their sources live in the runtime
  // root, which stays hidden (step 8 judges only what is bound at its own path).
  for (const file of ctx.files ?? []) ops.push({ op: 'ro-bind', src: file.src, dest: file.dest });
  if (spec.package !== undefined) ops.push({ op: 'ro-bind', src: storePackage(spec, spec.package), dest: SANDBOX_PKG });

  // 5. The workspace and the profile's paths, and the git directories their checkouts need.
  const givenRoots = [...(spec.workspace === null ? [] : [spec.workspace]), ...spec.writable];
  const layouts = new Map(givenRoots.map((root) => [root, gitLayout(root)] as const));
  const writableRoots = [...givenRoots];
  for (const layout of layouts.values()) {
    // A linked worktree's objects and refs live in the common dir, outside the checkout.
    if (layout.kind === 'linked' && !writableRoots.some((root) => isInside(layout.commonDir, root)))
      writableRoots.push(layout.commonDir);
  }
  // Defence in depth for every sandbox (agents and MCP servers): callers resolve and check their
  // writable lists, but a system directory bound read-write would be the host's own (SBX-05).
  for (const path of writableRoots) {
    if (isNeverWritable(path)) {
      const what =
        path === spec.workspace
          ? 'the workspace'
          : spec.writable.includes(path)
            ? 'filesystem.writable'
            : "the git directory of a checkout (a linked worktree's common dir)";
      throw new WardenError('PATH_POLICY', `${path} is a system directory and cannot be writable (${what})`, {
        hint: 'use a project directory, or name a narrower directory',
      });
    }
  }
  for (const op of orderedBinds(spec.readOnly, writableRoots)) ops.push(op);

  // 6. Mandatory write-deny entries under every writable root (SBX-06, SBX-20), after the binds so
  // they override them. Only entries that exist are mounted (read-only, parents pinned); the rest
  // are recorded for the post-run check, which judges any the sandbox creates. Entries inside a
  // profile deny are left to the deny (step 7): it hides them entirely, and a protective self-bind
  // there would show the host content again.
  const denied = spec.deny.filter((path) => {
    const kind = kindOf(path);
    // A missing path is not mounted (nothing to hide). A symlink is not treated as covered: the
    // mount lands on its target, and the link itself could be replaced, so step 6 still refuses it.
    return kind !== 'missing' && kind !== 'symlink';
  });
  const protection = new Protection(ctx, denied);
  const repos: RepoConfig[] = [];
  const gitDirs: string[] = [];
  for (const [root, layout] of layouts) {
    const git = gitEntries(root, layout);
    repos.push(...git.repos);
    gitDirs.push(...git.gitDirs);
    for (const [dir, entries] of git.byRoot) protection.protect(dir, entries);
  }
  const gitPaths = gitCodePaths(repos, { home: ctx.hostHome ?? null });
  for (const root of writableRoots) {
    const hookDirs = [
      ...gitPaths.filter((path) => path.endsWith('/')).map((path) => path.replace(/\/+$/, '')),
      ...gitDirs.filter((dir) => isInside(dir, root)).map((dir) => join(dir, 'hooks')),
      join(root, '.husky'),
    ].filter((dir) => isInside(dir, root));
    const entries: PlannedEntry[] = [];
    if (givenRoots.includes(root)) {
      for (const { entry, policy } of PROTECTED_ENTRIES) {
        if (entry.startsWith('.git/')) continue; // per layout, above
        entries.push({ entry, policy, strict: true });
      }
    }
    for (const entry of entriesUnder(root, gitPaths)) entries.push({ entry, policy: 'code', strict: true });
    for (const path of namedScripts(root, hookDirs))
      entries.push({ entry: relative(root, path), policy: 'code', strict: false });
    protection.protect(root, entries);
  }
  for (const op of protection.ops) ops.push(op);

  // 7. Profile deny list: hidden, whatever was bound above. After step 6, because a self-bind of
  // .git or a read-only bind of .bashrc there would otherwise re-bind the host path over the
  // empty deny mount (a deny must win; it is read-only too, so it never weakens step 6).
  for (const path of spec.deny) {
    const kind = kindOf(path);
    if (kind === 'missing') continue; // nothing to hide; a file the agent creates later is its own
    ops.push({ op: 'ro-bind', src: kind === 'dir' ? ctx.emptyDir : ctx.emptyFile, dest: path });
  }

  // 8. Paths that must never be visible (warden's state, other runs), wherever they were bound.
  const boundRoots = [...spec.readOnly, ...writableRoots];
  for (const given of spec.neverVisible) {
    // Bound roots are real paths; compare the never-visible path in the same form.
    const path = realPathOrSelf(given);
    // A root strictly inside a never-visible path (e.g. read_only: [<state dir>/keys]) is bound
    // from the host after, and separately from, anything hiding the parent: covering the parent
    // cannot hide it. Refuse rather than expose warden's own state (SBX-04).
    const exposed = boundRoots.find((root) => root !== path && isInside(root, path));
    if (exposed !== undefined) {
      throw new WardenError(
        'PATH_POLICY',
        `${exposed} is inside ${path}, which a sandbox must never see (warden's state or another run's files)`,
        {
          hint: `remove ${exposed} from the profile's filesystem paths, or use a workspace outside ${path}`,
        },
      );
    }
    if (!boundRoots.some((root) => isInside(path, root))) continue;
    const kind = kindOf(path);
    if (kind === 'missing') continue;
    ops.push({ op: 'ro-bind', src: kind === 'dir' ? ctx.emptyDir : ctx.emptyFile, dest: path });
  }

  // 9. Freeze the root itself: only the tmpfs and the writable binds above stay writable (SBX-05).
  ops.push({ op: 'remount-ro', dest: '/' });
  return {
    ops,
    writableRoots,
    baseline: { since, roots: writableRoots, existing: protection.existing, absent: protection.absent, gitDirs },
  };
}

/**
 * The persistent home's host path, checked against the never-visible paths. It is the one thing
 * of warden's state a sandbox may see, and only as itself: bound at SANDBOX_HOME, never at its own
 * path (so the state dir's path shows nothing inside), and only when no never-visible path lies
 * within it (the state dir itself, a parent of another profile's home, a run directory) — anything
 * inside the home is shown at /home/agent/… and no later hiding step covers that (SBX-04).
 */
function persistentHome(spec: SandboxSpec): string {
  const home = spec.home ?? '';
  for (const given of spec.neverVisible) {
    const path = realPathOrSelf(given);
    if (!isInside(path, home)) continue;
    throw new WardenError(
      'PATH_POLICY',
      `the home ${home} contains ${path}, which a sandbox must never see (warden's state or another run's files)`,
      { hint: 'a persistent home must be its own directory, e.g. <state dir>/homes/<profile>' },
    );
  }
  return home;
}

/**
 * A store package's host path, checked like a persistent home: it lives in the state dir and is
 * shown only at SANDBOX_PKG, so nothing never-visible may lie inside it.
 */
function storePackage(spec: SandboxSpec, root: string): string {
  for (const given of spec.neverVisible) {
    const path = realPathOrSelf(given);
    if (!isInside(path, root)) continue;
    throw new WardenError(
      'PATH_POLICY',
      `the package ${root} contains ${path}, which a sandbox must never see (warden's state or another run's files)`,
      { hint: 'a store package is its own directory under <state dir>/store' },
    );
  }
  return root;
}

/** A protected entry under a root: relative path ('/' marks a directory) and its post-run policy. */
interface PlannedEntry {
  readonly entry: string;
  readonly policy: NewEntryPolicy;
  /**
   * Refuse to run when the entry or a parent is a symlink (a mount cannot pin a link). Scripts
   * found by reading commands are not strict: a path warden guessed must not stop a run.
   */
  readonly strict: boolean;
}

/**
 * The mounts that make protected entries read-only and unrenamable, and the record of which
 * existed. Nothing is planned at or below a path in `denied`: the profile deny mounted there later
 * hides it entirely (and is itself a mount point, so it cannot be renamed either).
 */
class Protection {
  readonly ops: MountOp[] = [];
  readonly existing: string[] = [];
  readonly absent: AbsentEntry[] = [];
  /** Directories pinned with a writable self-bind, and paths already bound read-only. */
  private readonly pinned = new Set<string>();
  private readonly readOnly: string[] = [];
  private readonly seenAbsent = new Set<string>();

  constructor(
    private readonly ctx: PlanContext,
    private readonly denied: readonly string[],
  ) {}

  /** Protects `entries` under `root`, shallow ones first so a read-only directory is never re-pinned writable below. */
  protect(root: string, entries: readonly PlannedEntry[]): void {
    const depth = (e: PlannedEntry): number => e.entry.replace(/\/$/, '').split('/').length;
    for (const planned of [...entries].sort((a, b) => depth(a) - depth(b))) this.protectOne(root, planned);
  }

  private protectOne(root: string, { entry, policy, strict }: PlannedEntry): void {
    const isDir = entry.endsWith('/');
    const parts = entry.replace(/\/$/, '').split('/');
    const full = join(root, ...parts);
    let current = root;
    for (let i = 0; i < parts.length; i++) {
      current = join(current, parts[i] ?? '');
      if (this.denied.some((path) => isInside(current, path))) return;
      if (this.readOnly.some((path) => isInside(current, path))) return; // already read-only whole
      const last = i === parts.length - 1;
      const kind = kindOf(current);
      if (kind === 'symlink') {
        if (!strict) return;
        // A mount cannot be placed on a symlink itself, so the agent could replace the link with a
        // real file and the host would run it later. Refuse rather than pretend to protect it.
        throw new WardenError(
          'WORKSPACE_INVALID',
          `${current} is a symlink; warden cannot keep it read-only inside the sandbox`,
          {
            hint: `replace the symlink with a regular ${last && !isDir ? 'file' : 'directory'}, or use a workspace that does not contain it`,
          },
        );
      }
      if (kind === 'missing') {
        // Nothing is created on the host: the sandbox may create it, and the post-run check judges it.
        if (!this.seenAbsent.has(full)) {
          this.seenAbsent.add(full);
          this.absent.push({ path: full, policy });
        }
        return;
      }
      if (last || kind !== 'dir') {
        // The entry itself, or a file where a directory is expected (e.g. .git as a gitfile).
        this.ops.push({ op: 'ro-bind', src: current, dest: current });
        this.readOnly.push(current);
        this.existing.push(current);
        return;
      }
      if (this.pinned.has(current)) continue;
      // Pin the parent (e.g. .git) with a self-bind: a mount point cannot be renamed or removed,
      // so the agent cannot move .git aside and create a fresh one with its own hooks.
      this.ops.push({ op: 'bind', src: current, dest: current });
      this.pinned.add(current);
    }
  }
}

/**
 * The protected git entries of a root's checkout, by the directory they sit under (the root for
 * `.git/…`, a linked worktree's common dir for its own), and what git-protect.ts reads.
 */
function gitEntries(
  root: string,
  layout: GitLayout,
): { byRoot: Map<string, PlannedEntry[]>; repos: RepoConfig[]; gitDirs: string[] } {
  const byRoot = new Map<string, PlannedEntry[]>();
  const add = (dir: string, prefix: string, entries: readonly string[], policy: NewEntryPolicy): void => {
    const list = byRoot.get(dir) ?? [];
    for (const entry of entries) list.push({ entry: `${prefix}${entry}`, policy, strict: true });
    byRoot.set(dir, list);
  };
  switch (layout.kind) {
    case 'none':
      // A repository the sandbox creates here is judged whole by the repository check.
      add(root, '.git/', GIT_DIR_ENTRIES, 'git');
      return { byRoot, repos: [], gitDirs: [] };
    case 'unusable':
      add(root, '', ['.git'], 'git');
      return { byRoot, repos: [], gitDirs: [] };
    case 'dir':
      add(root, '.git/', gitDirOwnEntries(layout.gitDir), 'git');
      return {
        byRoot,
        repos: [
          { worktree: root, configFiles: [join(layout.gitDir, 'config'), join(layout.gitDir, 'config.worktree')] },
        ],
        gitDirs: [layout.gitDir],
      };
    case 'linked': {
      // The gitfile stays as it is; the common dir's config, hooks and every worktree's
      // redirections are protected like .git's own.
      add(root, '', ['.git'], 'git');
      add(layout.commonDir, '', gitDirOwnEntries(layout.commonDir), 'git');
      return {
        byRoot,
        repos: [
          {
            worktree: root,
            configFiles: [join(layout.commonDir, 'config'), join(layout.gitDir, 'config.worktree')],
          },
        ],
        gitDirs: [layout.commonDir],
      };
    }
  }
}

/** Entries of a git directory, relative to it: its own, each linked worktree's, each submodule's. */
function gitDirOwnEntries(gitDir: string): string[] {
  const entries = [...GIT_DIR_ENTRIES];
  for (const name of listDir(join(gitDir, 'worktrees')).slice(0, 256)) {
    if (kindOf(join(gitDir, 'worktrees', name)) !== 'dir') continue;
    for (const file of WORKTREE_ENTRIES) entries.push(`worktrees/${name}/${file}`);
  }
  entries.push(...gitModuleEntries(gitDir));
  return entries;
}

/**
 * The read-only and writable binds, parents before children: a read-only directory inside the
 * workspace must be mounted after the workspace, or the workspace's read-write bind would cover
 * it; a writable directory inside a read-only one likewise comes after it. At equal depth the
 * read-only bind goes last, so a path named in both lists stays read-only.
 */
function orderedBinds(readOnly: readonly string[], writable: readonly string[]): MountOp[] {
  const binds: MountOp[] = [
    ...writable.map((path): MountOp => ({ op: 'bind', src: path, dest: path })),
    ...readOnly.map((path): MountOp => ({ op: 'ro-bind', src: path, dest: path })),
  ];
  const depth = (op: MountOp): number => ('dest' in op ? op.dest.split('/').filter((part) => part !== '').length : 0);
  // Array.prototype.sort is stable: within one depth, writable binds stay before read-only ones.
  return binds.sort((a, b) => depth(a) - depth(b));
}

/** `paths` (absolute, '/' marking directories) that lie strictly inside `root`, relative to it. */
function entriesUnder(root: string, paths: readonly string[]): string[] {
  const entries: string[] = [];
  for (const path of paths) {
    const isDir = path.endsWith('/');
    const bare = path.replace(/\/+$/, '');
    if (bare === root || !isInside(bare, root)) continue;
    entries.push(`${relative(root, bare)}${isDir ? '/' : ''}`);
  }
  return entries;
}

/** Hook and config paths of git submodules under `<gitDir>/modules`, relative to gitDir (bounded walk). */
function gitModuleEntries(gitDir: string): string[] {
  const entries: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 4 || entries.length > 256) return;
    for (const name of listDir(join(gitDir, dir))) {
      const child = `${dir}/${name}`;
      if (kindOf(join(gitDir, child)) !== 'dir') continue;
      if (existsSync(join(gitDir, child, 'config')))
        entries.push(`${child}/hooks/`, `${child}/config`, `${child}/commondir`, `${child}/config.worktree`);
      const nested = join(gitDir, child, 'modules');
      if (kindOf(nested) === 'dir') walk(`${child}/modules`, depth + 1);
    }
  };
  if (kindOf(join(gitDir, 'modules')) === 'dir') walk('modules', 0);
  return entries;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function tmpfs(dest: string, sizeBytes: number | null): MountOp {
  return sizeBytes === null ? { op: 'tmpfs', dest } : { op: 'tmpfs', dest, sizeBytes };
}

function readLinkOrNull(path: string): string | null {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : null;
  } catch {
    return null;
  }
}

type Kind = 'file' | 'dir' | 'symlink' | 'missing' | 'other';
function kindOf(path: string): Kind {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return 'symlink';
    if (st.isDirectory()) return 'dir';
    if (st.isFile()) return 'file';
    return 'other';
  } catch {
    return 'missing';
  }
}

/** True when `path` is `root` or lies under it (both absolute and normalised). */
export function isInside(path: string, root: string): boolean {
  if (path === root) return true;
  const rel = relative(root, path);
  // Only '..' itself or a '../' prefix leaves root: '..data' or '...' is an ordinary child name.
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep) && dirname(path) !== path;
}

/** The real path of `path`, or `path` itself when it cannot be resolved (e.g. it does not exist). */
export function realPathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Turns a plan into bwrap arguments. */
export function mountArgs(ops: readonly MountOp[]): string[] {
  const args: string[] = [];
  for (const op of ops) {
    switch (op.op) {
      case 'ro-bind':
      case 'bind':
      case 'ro-bind-try':
        args.push(`--${op.op}`, op.src, op.dest);
        break;
      case 'symlink':
        args.push('--symlink', op.target, op.dest);
        break;
      case 'tmpfs':
        if (op.sizeBytes !== undefined) args.push('--size', String(op.sizeBytes));
        args.push('--tmpfs', op.dest);
        break;
      case 'proc':
      case 'dev':
      case 'remount-ro':
        args.push(`--${op.op}`, op.dest);
        break;
    }
  }
  return args;
}
