/**
 * After a run: find git repositories the sandbox created or changed inside its writable roots
 * that would run code when the host's git touches them, and take them out of git's reach
 * (SBX-06). The fixed write-deny mounts protect the top-level repository; they cannot stop an
 * agent from running `git init` in a subdirectory and adding `core.fsmonitor = <command>` to
 * that repository's config, which the host's git runs on the next `git status` there (shell
 * prompts run it on every `cd`).
 *
 * A repository counts as changed when its config, commondir, hooks, or hooks directory has a
 * ctime at or after the run's start: the sandbox can set mtimes back, never ctimes. A changed
 * repository is quarantined when it could run code: a hook that is not a `.sample`, a
 * commondir, or a config that is unreadable or holds a key outside SAFE_CONFIG_KEYS. Quarantine
 * renames, never deletes: `.git` becomes `.git.warden-quarantine-<run id>`, and a bare or
 * module git directory's `HEAD` becomes `HEAD.warden-quarantine-<run id>`, so git no longer
 * sees a repository there and the user can inspect it and rename it back.
 */
import { lstatSync, readdirSync, readFileSync, renameSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { keyPattern, MAX_GIT_CONFIG_BYTES, parseGitConfig } from './git-config.js';

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

/** Directories inside a git directory that hold data only and can be large. */
const GIT_DATA_DIRS = new Set(['objects', 'lfs', 'logs', 'refs']);

export interface PlantedRepository {
  /** The git directory (a `.git` directory, a bare repository, or a module's git directory). */
  readonly gitDir: string;
  readonly reason: string;
  /** Where the quarantined entry now is; null when the rename failed (then `error` says why). */
  readonly movedTo: string | null;
  readonly error?: string;
}

export interface PlantedScan {
  readonly quarantined: readonly PlantedRepository[];
  /** False when the walk stopped at `maxEntries`: repositories beyond it were not checked. */
  readonly complete: boolean;
  readonly entriesSeen: number;
}

export interface PlantedScanOptions {
  /** Wall-clock ms when the sandbox started; changes at or after it are the sandbox's. */
  readonly since: number;
  readonly runId: string;
  /** The top-level `.git` of each root is write-protected by mounts and skipped. */
  readonly maxEntries?: number;
}

/** At ~15 µs per entry, about 5 s on a very large tree; the summary says when it stopped short. */
export const DEFAULT_MAX_SCAN_ENTRIES = 300_000;
/** Timestamps are coarse (a jiffy); a change this close before `since` still counts. */
const CLOCK_SLACK_MS = 1_000;

/** Walks `roots` and quarantines planted repositories. Never follows symlinks. */
export function quarantinePlantedRepositories(roots: readonly string[], options: PlantedScanOptions): PlantedScan {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_SCAN_ENTRIES;
  const since = options.since - CLOCK_SLACK_MS;
  const protectedGitDirs = new Set(roots.map((root) => join(root, '.git')));
  const quarantined: PlantedRepository[] = [];
  const stack = [...roots];
  let seen = 0;
  let complete = true;
  while (stack.length > 0) {
    const dir = stack.pop() ?? '';
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // gone or unreadable: nothing git could use either
    }
    seen += entries.length;
    if (seen > maxEntries) {
      complete = false;
      break;
    }
    const isGitDir = entries.some((entry) => entry.name === 'HEAD') && !protectedGitDirs.has(dir);
    if (isGitDir) {
      const reason = changedAndUnsafe(dir, entries, since);
      if (reason !== null) {
        quarantined.push(quarantine(dir, reason, options.runId));
        continue; // out of git's reach now; nothing below it needs checking
      }
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue; // Dirent from readdir does not follow symlinks
      if (isGitDir && GIT_DATA_DIRS.has(entry.name)) continue;
      stack.push(join(dir, entry.name));
    }
  }
  return { quarantined, complete, entriesSeen: seen };
}

/** Why the git directory `dir` must be quarantined, or null when it is unchanged or runs nothing. */
function changedAndUnsafe(dir: string, entries: readonly Dirent[], since: number): string | null {
  const names = new Set(entries.map((entry) => entry.name));
  const hooksDir = join(dir, 'hooks');
  const hooks = names.has('hooks') ? listOrEmpty(hooksDir) : [];
  const watched = ['config', 'config.worktree', 'commondir']
    .filter((name) => names.has(name))
    .map((name) => join(dir, name));
  if (names.has('hooks')) watched.push(hooksDir, ...hooks.map((name) => join(hooksDir, name)));
  if (!watched.some((path) => changedSince(path, since))) return null;

  if (names.has('commondir')) return 'it has a commondir, which points git at another config and hooks';
  if (names.has('hooks') && !isRealDirectory(hooksDir))
    return 'hooks is not a directory (a link can point git at any hooks)';
  const hook = hooks.find((name) => !name.endsWith('.sample'));
  if (hook !== undefined) return `it has a hook, hooks/${hook}`;
  for (const name of ['config', 'config.worktree']) {
    if (!names.has(name)) continue;
    const problem = unsafeConfig(join(dir, name));
    if (problem !== null) return `${name}: ${problem}`;
  }
  return null;
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

function quarantine(gitDir: string, reason: string, runId: string): PlantedRepository {
  const suffix = `.warden-quarantine-${runId}`;
  // A `.git` directory is renamed whole (plain to see in the tree); elsewhere only HEAD, so a
  // directory the agent built keeps its place but is no longer a repository to git.
  const from = gitDir.endsWith('/.git') ? gitDir : join(gitDir, 'HEAD');
  const to = `${from}${suffix}`;
  try {
    renameSync(from, to);
    return { gitDir, reason, movedTo: to };
  } catch (error) {
    return { gitDir, reason, movedTo: null, error: (error as Error).message };
  }
}

function changedSince(path: string, since: number): boolean {
  try {
    return lstatSync(path).ctimeMs >= since;
  } catch {
    return false;
  }
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return isRealDirectory(dir) ? readdirSync(dir) : [];
  } catch {
    return [];
  }
}
