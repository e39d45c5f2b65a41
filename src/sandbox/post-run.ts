/**
 * After a sandbox stops: make sure nothing it left in the directories it could write makes the
 * host run code later (SBX-06, SBX-20, SBX-21, SBX-22). One bounded walk over the writable roots
 * does it all:
 *
 * - protected entries (host-exec.ts) that did not exist and now do are judged by their policy and
 *   quarantined when they would make the host run something (a new `.bashrc`, an `.mcp.json`
 *   that defines a server, a `.claude/settings.json` with hooks…);
 * - every git directory, recognised as git does (a `HEAD`; `.git` gitfiles and symlinks are
 *   followed to their target), anywhere in the tree — inside another repository's objects/,
 *   refs/ or logs/ too — that the run created or changed is quarantined when it could run code;
 * - FIFOs, sockets and device nodes the run made are removed; setuid/setgid bits on files it
 *   made are stripped (seccomp refuses setting them; this is the second line);
 * - a directory the walk cannot read is made readable to its owner (the sandbox made it so) and
 *   walked, or reported.
 *
 * Quarantine renames, never deletes: `<name>.warden-quarantine-<run id>`. "Changed" is decided
 * by ctime, which the sandbox cannot set back. The walk never follows symlinks and never acts
 * outside the roots.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  unlinkSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { keyPattern, MAX_GIT_CONFIG_BYTES, parseGitConfig } from './git-config.js';
import { readGitfile } from './git-layout.js';
import { PROTECTED_ENTRIES, type HostExecBaseline, type NewEntryPolicy } from './host-exec.js';

/** Config keys that configure data, never a command, in a repository the agent made (as keyPattern() writes them). */
const SAFE_CONFIG_KEYS = new Set([
  'core.repositoryformatversion',
  'core.filemode',
  'core.bare',
  'core.logallrefupdates',
  'core.ignorecase',
  'core.precomposeunicode',
  'core.symlinks',
  'core.autocrlf',
  'core.eol',
  'core.worktree',
  'core.sparsecheckout',
  'core.sparsecheckoutcone',
  'extensions.objectformat',
  'extensions.refstorage',
  'extensions.worktreeconfig',
  'init.defaultbranch',
  'user.name',
  'user.email',
  'pull.rebase',
  'fetch.prune',
  'gc.auto',
  'lfs.repositoryformatversion',
  'index.version',
  'remote.*.url',
  'remote.*.pushurl',
  'remote.*.fetch',
  'remote.*.push',
  'remote.*.tagopt',
  'remote.*.promisor',
  'remote.*.partialclonefilter',
  'branch.*.remote',
  'branch.*.merge',
  'branch.*.rebase',
  'submodule.*.url',
  'submodule.*.active',
]);

/**
 * Top-level keys of `.claude/settings*.json` that only configure data. Everything else (hooks,
 * statusLine, apiKeyHelper and the other helpers, env, permissions beyond deny/ask, MCP server
 * approvals) makes the host's Claude Code run or allow something.
 */
const SAFE_AGENT_SETTINGS_KEYS = new Set([
  '$schema',
  'model',
  'includeCoAuthoredBy',
  'cleanupPeriodDays',
  'outputStyle',
  'spinnerTipsEnabled',
  'alwaysThinkingEnabled',
  'disabledMcpjsonServers',
]);
/** Permission lists that only take rights away. */
const SAFE_PERMISSION_KEYS = new Set(['deny', 'ask']);

export type FindingKind = 'git_planted' | 'host_exec_planted' | 'setuid' | 'special_file' | 'unreadable_dir';
export type FindingAction = 'quarantined' | 'stripped' | 'removed' | 'made_readable' | 'reported';

/** One thing the check found and what it did about it. */
export interface PostRunFinding {
  readonly path: string;
  readonly kind: FindingKind;
  readonly action: FindingAction;
  readonly reason: string;
  /** Where a quarantined entry now is; null when the rename failed (then `error` says why). */
  readonly movedTo?: string | null;
  /** Set when the action failed: the entry is still there as it was. */
  readonly error?: string;
}

export interface PostRunReport {
  readonly findings: readonly PostRunFinding[];
  /** False when the walk stopped at its entry or time bound, or met a directory it could not read. */
  readonly complete: boolean;
  readonly entriesSeen: number;
  readonly elapsedMs: number;
}

export interface PostRunOptions {
  readonly runId: string;
  /** Wall-clock ms when the sandbox started; changes at or after it are the sandbox's. */
  readonly since: number;
  /**
   * The sandbox's baseline (MountPlan.baseline). Without one — a caller that only knows the roots —
   * every protected entry at the top of a root with a ctime at or after `since` is judged as new.
   */
  readonly baseline?: HostExecBaseline;
  readonly maxEntries?: number;
  readonly maxMs?: number;
}

/** At a few µs per entry, well under a few seconds on a very large tree; the summary says when it stopped short. */
export const DEFAULT_MAX_SCAN_ENTRIES = 300_000;
/** The walk is on the run's exit path: it gives up (and says so) rather than hold the user for long. */
export const DEFAULT_MAX_SCAN_MS = 5_000;
/** Timestamps are coarse (a jiffy); a change this close before `since` still counts. */
const CLOCK_SLACK_MS = 1_000;
const MAX_SETTINGS_BYTES = 1024 * 1024;

/**
 * Checks the directories a sandbox could write, after it stopped (nothing may write them while
 * this runs). Callable over any list of roots: the agent's workspace and `writable` paths, an
 * MCP server's writable directories, a gateway's when it stops.
 */
export function checkAfterRun(roots: readonly string[], options: PostRunOptions): PostRunReport {
  const started = performance.now();
  const check = new Check(uniqueRoots(roots), options);
  check.newProtectedEntries();
  check.walk(options.maxEntries ?? DEFAULT_MAX_SCAN_ENTRIES, options.maxMs ?? DEFAULT_MAX_SCAN_MS);
  return {
    findings: check.findings,
    complete: check.complete,
    entriesSeen: check.seen,
    elapsedMs: performance.now() - started,
  };
}

class Check {
  readonly findings: PostRunFinding[] = [];
  complete = true;
  seen = 0;
  private readonly since: number;
  private readonly suffix: string;
  private readonly existing: ReadonlySet<string>;
  private readonly protectedGitDirs: ReadonlySet<string>;
  private readonly judgedGitDirs = new Set<string>();
  private readonly uid = process.getuid?.() ?? -1;
  /** Directories still to walk. */
  private readonly stack: string[] = [];

  constructor(
    private readonly roots: readonly string[],
    private readonly options: PostRunOptions,
  ) {
    this.since = options.since - CLOCK_SLACK_MS;
    this.suffix = `.warden-quarantine-${options.runId}`;
    this.existing = new Set(options.baseline?.existing ?? []);
    this.protectedGitDirs = new Set(options.baseline?.gitDirs ?? []);
  }

  /** Protected entries the sandbox created (SBX-06, SBX-20), judged by their policy. */
  newProtectedEntries(): void {
    const candidates =
      this.options.baseline?.absent ??
      this.roots.flatMap((root) =>
        PROTECTED_ENTRIES.map((e) => ({ path: join(root, e.entry.replace(/\/$/, '')), policy: e.policy })),
      );
    for (const { path, policy } of candidates) {
      if (policy === 'git') continue; // the repository check below judges git directories whole
      const real = this.realInsideRoots(path);
      if (real === null) continue;
      const st = lstatOrNull(real);
      if (st === null) continue;
      if (this.options.baseline === undefined && st.ctimeMs < this.since) continue;
      const reason = judgeNewEntry(real, st, policy);
      if (reason !== null) this.quarantine(real, 'host_exec_planted', reason);
    }
  }

  /** The walk over every root (SBX-21, SBX-22). */
  walk(maxEntries: number, maxMs: number): void {
    const deadline = performance.now() + maxMs;
    const stack = this.stack;
    stack.push(...this.roots);
    while (stack.length > 0) {
      const dir = stack.pop() ?? '';
      const entries = this.readDir(dir);
      if (entries === null) continue;
      this.seen += entries.length;
      if (this.seen > maxEntries || performance.now() > deadline) {
        this.complete = false;
        return;
      }
      let here = dir;
      if (entries.some((entry) => entry.name === 'HEAD')) here = this.judgeGitDir(dir) ?? dir;
      const dirChanged = changedSince(lstatOrNull(here), this.since);
      for (const entry of entries) {
        const path = join(here, entry.name);
        if (entry.isDirectory()) {
          stack.push(path);
        } else if (entry.name === '.git' && (entry.isFile() || entry.isSymbolicLink())) {
          this.followGitPointer(path, entry.isSymbolicLink());
        } else if (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice()) {
          this.specialFile(path);
        } else if (entry.isFile() ? dirChanged : !entry.isSymbolicLink()) {
          // Only a directory that changed can hold a file the run made or renamed in (seccomp
          // refuses chmod to setuid, so an old file cannot become one in place). Unknown types: stat.
          this.setuidFile(path);
        }
      }
    }
  }

  /**
   * Judges the git directory `dir` (SBX-06/SBX-21). Returns where it is now when the check moved
   * it (a quarantined `.git`), else null.
   */
  private judgeGitDir(dir: string): string | null {
    if (this.judgedGitDirs.has(dir)) return null;
    this.judgedGitDirs.add(dir);
    const names = new Set(listOrEmpty(dir));
    const isNew = (name: string): boolean => names.has(name) && !this.existing.has(join(dir, name));
    const hooksDir = join(dir, 'hooks');
    const hooks = isNew('hooks') ? listOrEmpty(hooksDir) : [];
    const watched = ['HEAD', 'config', 'config.worktree', 'commondir', 'hooks'].filter(isNew).map((n) => join(dir, n));
    watched.push(...hooks.map((name) => join(hooksDir, name)));
    if (!watched.some((path) => changedSince(lstatOrNull(path), this.since))) return null;

    const problems: { entry: string; reason: string }[] = [];
    if (isNew('commondir') && !isWorktreeCommondir(dir))
      problems.push({ entry: 'commondir', reason: 'it has a commondir, which points git at another config and hooks' });
    if (isNew('hooks')) {
      if (lstatOrNull(hooksDir)?.isDirectory() !== true)
        problems.push({ entry: 'hooks', reason: 'hooks is not a directory (a link can point git at any hooks)' });
      else {
        const hook = hooks.find((name) => !name.endsWith('.sample'));
        if (hook !== undefined) problems.push({ entry: 'hooks', reason: `it has a hook, hooks/${hook}` });
      }
    }
    for (const name of ['config', 'config.worktree']) {
      if (!isNew(name)) continue;
      const problem = unsafeConfig(join(dir, name));
      if (problem !== null) problems.push({ entry: name, reason: `${name}: ${problem}` });
    }
    if (problems.length === 0) return null;

    if (this.protectedGitDirs.has(dir)) {
      // The user's own repository: take out only what the run added, keep the repository.
      for (const problem of problems) this.quarantine(join(dir, problem.entry), 'git_planted', problem.reason);
      return null;
    }
    // Renaming HEAD makes it no repository to git, wherever it is; a `.git` is also renamed, so
    // it is plain to see. Undoing it means renaming HEAD back, which a later run's check sees (ctime).
    const reason = problems.map((p) => p.reason).join('; ');
    const head = this.rename(join(dir, 'HEAD'));
    if (basename(dir) !== '.git') {
      this.findings.push({ path: dir, kind: 'git_planted', action: 'quarantined', reason, ...head });
      return null;
    }
    const moved = this.rename(dir);
    this.findings.push({ path: dir, kind: 'git_planted', action: 'quarantined', reason, ...moved });
    return moved.movedTo ?? null;
  }

  /** A `.git` gitfile or symlink: the git directory it names is judged now, wherever the walk is. */
  private followGitPointer(path: string, isLink: boolean): void {
    const st = lstatOrNull(path);
    let target: string | null;
    try {
      target = isLink ? readlinkSync(path) : readGitfile(path);
    } catch {
      target = null;
    }
    if (target === null) return; // not a gitfile: git ignores it and carries on upwards
    const resolved = isAbsolute(target) ? target : resolve(dirname(path), target);
    const real = realOrNull(resolved);
    if (real !== null && this.isInsideRoots(real)) {
      if (lstatOrNull(real)?.isDirectory() === true) {
        // A `.git` moved aside is walked under its new name (the walk may have queued the old one).
        const moved = this.judgeGitDir(real);
        if (moved !== null) this.stack.push(moved);
      }
      return;
    }
    // Outside every writable root: not the sandbox's to judge, unless the sandbox made the pointer.
    if (changedSince(st, this.since))
      this.quarantine(
        path,
        'git_planted',
        `it points git at ${resolved}, outside the directories the sandbox could write`,
      );
  }

  /** SBX-22: a FIFO, socket or device node the run made is removed (none holds data). */
  private specialFile(path: string): void {
    const st = lstatOrNull(path);
    if (st === null || !changedSince(st, this.since)) return;
    const what = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a unix socket' : 'a device node';
    try {
      unlinkSync(path);
      this.findings.push({ path, kind: 'special_file', action: 'removed', reason: `${what} left by the run` });
    } catch (error) {
      this.findings.push({
        path,
        kind: 'special_file',
        action: 'reported',
        reason: `${what} left by the run`,
        error: (error as Error).message,
      });
    }
  }

  /** SBX-22: setuid/setgid bits on a file the run made are stripped. */
  private setuidFile(path: string): void {
    const st = lstatOrNull(path);
    if (st === null) return;
    if (st.isFIFO() || st.isSocket() || st.isCharacterDevice() || st.isBlockDevice()) return this.specialFile(path);
    if (!st.isFile() || (st.mode & 0o6000) === 0 || !changedSince(st, this.since)) return;
    const bits = [(st.mode & 0o4000) !== 0 ? 'setuid' : '', (st.mode & 0o2000) !== 0 ? 'setgid' : '']
      .filter((b) => b !== '')
      .join(' and ');
    try {
      chmodSync(path, st.mode & 0o1777);
      this.findings.push({ path, kind: 'setuid', action: 'stripped', reason: `${bits} bit set by the run` });
    } catch (error) {
      this.findings.push({
        path,
        kind: 'setuid',
        action: 'reported',
        reason: `${bits} bit set by the run`,
        error: (error as Error).message,
      });
    }
  }

  /**
   * Lists `dir`. One the run made unreadable (SBX-21: a repository hidden under it) is made
   * readable to its owner and listed; one that stays unreadable is reported and the check is
   * incomplete. As root every directory is readable.
   */
  private readDir(dir: string): Dirent[] | null {
    try {
      return readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM') return null; // gone: nothing git could use either
    }
    const st = lstatOrNull(dir);
    if (st === null || !st.isDirectory()) return null;
    const reason = 'a directory the run made unreadable (a repository could hide under it)';
    if (st.uid === this.uid) {
      try {
        chmodSync(dir, (st.mode & 0o7777) | 0o500);
        const entries = readdirSync(dir, { withFileTypes: true });
        this.findings.push({
          path: dir,
          kind: 'unreadable_dir',
          action: 'made_readable',
          reason: `${reason}; made readable to its owner and checked`,
        });
        return entries;
      } catch {
        // fall through: report it
      }
    }
    if (!changedSince(st, this.since)) return null; // not the run's: it could not write there either
    this.complete = false;
    this.findings.push({ path: dir, kind: 'unreadable_dir', action: 'reported', reason: `${reason}; not checked` });
    return null;
  }

  private quarantine(path: string, kind: FindingKind, reason: string): void {
    this.findings.push({ path, kind, action: 'quarantined', reason, ...this.rename(path) });
  }

  /** Renames `path` aside (never deletes); `<path><suffix>`, or with a counter when that exists. */
  private rename(path: string): { movedTo: string | null; error?: string } {
    let to = `${path}${this.suffix}`;
    for (let n = 2; existsSync(to) && n < 100; n++) to = `${path}${this.suffix}-${n}`;
    try {
      renameSync(path, to);
      return { movedTo: to };
    } catch (error) {
      return { movedTo: null, error: (error as Error).message };
    }
  }

  private isInsideRoots(path: string): boolean {
    return this.roots.some((root) => isInside(path, root));
  }

  /** `path` with its parent resolved, when that lies inside a root; null otherwise (never act outside). */
  private realInsideRoots(path: string): string | null {
    const parent = realOrNull(dirname(path));
    if (parent === null) return null;
    const real = join(parent, basename(path));
    return this.isInsideRoots(real) ? real : null;
  }
}

/** Why a protected entry the run created must be quarantined, or null when it runs nothing. */
function judgeNewEntry(path: string, st: Stats, policy: NewEntryPolicy): string | null {
  if (st.isSymbolicLink()) return 'a link the run made where the host reads code or config';
  switch (policy) {
    case 'git':
      return null;
    case 'code':
      return st.isDirectory()
        ? 'a directory the run made whose contents the host runs or obeys'
        : 'a file the run made that the host runs or obeys';
    case 'mcp-servers':
      return judgeJson(path, st, (config) => {
        const servers = (config as { mcpServers?: unknown }).mcpServers;
        if (servers === undefined) return null;
        if (typeof servers !== 'object' || servers === null) return 'mcpServers is not an object';
        const names = Object.keys(servers);
        return names.length === 0 ? null : `it defines MCP servers the host's agent would start (${names.join(', ')})`;
      });
    case 'agent-settings':
      return judgeJson(path, st, (settings) => {
        for (const [key, value] of Object.entries(settings as Record<string, unknown>)) {
          if (key === 'permissions' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
            const extra = Object.keys(value).find((k) => !SAFE_PERMISSION_KEYS.has(k));
            if (extra !== undefined) return `it sets permissions.${extra}, which lets the host's agent do more`;
            continue;
          }
          if (!SAFE_AGENT_SETTINGS_KEYS.has(key))
            return `it sets ${key}, which makes the host's agent run or allow something`;
        }
        return null;
      });
  }
}

function judgeJson(path: string, st: Stats, judge: (value: object) => string | null): string | null {
  if (!st.isFile()) return 'not a regular file';
  if (st.size > MAX_SETTINGS_BYTES) return `larger than ${MAX_SETTINGS_BYTES} bytes`;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return 'it is not JSON warden can read (its tool might read it differently)';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return judge(value);
}

/** A linked worktree's git dir (`<common>/worktrees/<name>`) whose commondir names its own `<common>`. */
function isWorktreeCommondir(dir: string): boolean {
  if (basename(dirname(dir)) !== 'worktrees') return false;
  try {
    const st = lstatSync(join(dir, 'commondir'));
    if (!st.isFile() || st.size > 4096) return false;
    const text = readFileSync(join(dir, 'commondir'), 'utf8').replace(/\r?\n$/, '');
    const target = realOrNull(isAbsolute(text) ? text : resolve(dir, text));
    return target !== null && target === realOrNull(dirname(dirname(dir)));
  } catch {
    return false;
  }
}

function unsafeConfig(file: string): string | null {
  try {
    const st = lstatSync(file);
    if (!st.isFile()) return 'not a regular file';
    if (st.size > MAX_GIT_CONFIG_BYTES) return `larger than ${MAX_GIT_CONFIG_BYTES} bytes`;
    for (const entry of parseGitConfig(readFileSync(file, 'utf8'))) {
      const key = keyPattern(entry);
      if (!SAFE_CONFIG_KEYS.has(key)) return `sets ${key}, which can make git run a command or read other files`;
    }
    return null;
  } catch (error) {
    return `cannot be read exactly (${(error as Error).message})`;
  }
}

/** Roots without those inside another root (the walk of the outer one covers them). */
function uniqueRoots(roots: readonly string[]): string[] {
  const real = [...new Set(roots.map((root) => realOrNull(root) ?? root))];
  return real.filter((root) => !real.some((other) => other !== root && isInside(root, other)));
}

function changedSince(st: Stats | null, since: number): boolean {
  return st !== null && st.ctimeMs >= since;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function realOrNull(path: string): string | null {
  try {
    return realpathSync.native(path);
  } catch {
    return null;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** True when `path` is `root` or lies under it (both absolute and normalised). */
function isInside(path: string, root: string): boolean {
  if (path === root) return true;
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
