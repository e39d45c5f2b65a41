/**
 * Where the git directory of a writable root is. A checkout's `.git` is either a directory or a
 * gitfile (`gitdir: <path>`): a linked worktree (`git worktree add`) names
 * `<main>/.git/worktrees/<name>`, whose objects and refs live in the common dir `<main>/.git`; a
 * submodule names `<super>/.git/modules/<name>`. Git inside the sandbox needs those directories
 * writable, so the planner binds them (and protects their config and hooks like `.git`'s).
 *
 * A gitfile is a file in the workspace, and a previous run's agent may have written it: warden
 * follows one only when the git directory it names points back at this checkout (a worktree's
 * `gitdir` file, a submodule's `core.worktree`), which only the owner of that repository could
 * have arranged. Anything else is left unbound: git then fails inside the sandbox, nothing more.
 */
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { MAX_GIT_CONFIG_BYTES, parseGitConfig } from './git-config.js';

export type GitLayout =
  | { readonly kind: 'none' }
  /** `<root>/.git` is a directory. */
  | { readonly kind: 'dir'; readonly gitDir: string; readonly commonDir: string }
  /** `<root>/.git` is a gitfile naming a git directory that points back at `root`. */
  | { readonly kind: 'linked'; readonly gitFile: string; readonly gitDir: string; readonly commonDir: string }
  /** `<root>/.git` is a file warden will not follow (or a symlink, or something else). */
  | { readonly kind: 'unusable'; readonly gitFile: string; readonly reason: string };

/** A gitfile is one short line; anything longer is not one. */
const MAX_GITFILE_BYTES = 4096;

/** How `root` (a real, absolute path) keeps its repository. Reads a few small files; never throws. */
export function gitLayout(root: string): GitLayout {
  const dotGit = join(root, '.git');
  let st;
  try {
    st = lstatSync(dotGit);
  } catch {
    return { kind: 'none' };
  }
  if (st.isDirectory()) return { kind: 'dir', gitDir: dotGit, commonDir: dotGit };
  if (!st.isFile()) return { kind: 'unusable', gitFile: dotGit, reason: '.git is neither a directory nor a file' };
  const target = readGitfile(dotGit);
  if (target === null) return { kind: 'unusable', gitFile: dotGit, reason: 'not a gitfile (gitdir: <path>)' };
  const gitDir = realOrNull(isAbsolute(target) ? target : resolve(root, target));
  if (gitDir === null || !isDir(gitDir)) return { kind: 'unusable', gitFile: dotGit, reason: `${target} is missing` };

  // A linked worktree: <common>/worktrees/<name>, with commondir → <common> and gitdir → our .git.
  if (basename(dirname(gitDir)) === 'worktrees') {
    const common = dirname(dirname(gitDir));
    const commondir = readSmall(join(gitDir, 'commondir'));
    const back = readSmall(join(gitDir, 'gitdir'));
    if (commondir === null || back === null)
      return { kind: 'unusable', gitFile: dotGit, reason: `${gitDir} has no commondir or gitdir file` };
    const commonReal = realOrNull(resolvePath(gitDir, commondir));
    const backReal = realOrNull(resolvePath(gitDir, back));
    if (commonReal !== common || !looksLikeGitDir(common))
      return { kind: 'unusable', gitFile: dotGit, reason: `${gitDir}/commondir does not name ${common}` };
    if (backReal !== dotGit)
      return { kind: 'unusable', gitFile: dotGit, reason: `${gitDir}/gitdir does not point back at ${dotGit}` };
    return { kind: 'linked', gitFile: dotGit, gitDir, commonDir: common };
  }

  // A submodule (or --separate-git-dir with core.worktree): a whole git dir whose core.worktree is us.
  if (looksLikeGitDir(gitDir)) {
    const worktree = coreWorktree(join(gitDir, 'config'));
    if (worktree !== null && realOrNull(resolvePath(gitDir, worktree)) === root)
      return { kind: 'linked', gitFile: dotGit, gitDir, commonDir: gitDir };
  }
  return {
    kind: 'unusable',
    gitFile: dotGit,
    reason: `${gitDir} is neither a worktree of a repository nor a git directory whose core.worktree is ${root}`,
  };
}

/** The path a gitfile names, or null when the file is not a gitfile. */
export function readGitfile(path: string): string | null {
  const text = readSmall(path);
  if (text === null) return null;
  const match = /^gitdir: (.+)$/.exec(text);
  return match?.[1] ?? null;
}

/** A directory git would take for a repository (HEAD, objects/ and refs/: setup.c's is_git_directory). */
export function looksLikeGitDir(dir: string): boolean {
  try {
    return (
      lstatSync(join(dir, 'HEAD')).isFile() && statSync(join(dir, 'objects')).isDirectory() && isDir(join(dir, 'refs'))
    );
  } catch {
    return false;
  }
}

function coreWorktree(configFile: string): string | null {
  try {
    if (statSync(configFile).size > MAX_GIT_CONFIG_BYTES) return null;
    let value: string | null = null;
    for (const entry of parseGitConfig(readFileSync(configFile, 'utf8'))) {
      if (entry.section === 'core' && entry.subsection === null && entry.name === 'worktree') value = entry.value;
    }
    return value;
  } catch {
    return null;
  }
}

/** The first line of a small regular file (trailing newline and CR removed), or null. */
function readSmall(path: string): string | null {
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.size > MAX_GITFILE_BYTES) return null;
    return (
      readFileSync(path, 'utf8')
        .replace(/\r?\n$/, '')
        .split('\n')[0] ?? null
    );
  } catch {
    return null;
  }
}

function resolvePath(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function realOrNull(path: string): string | null {
  try {
    return realpathSync.native(path);
  } catch {
    return null;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
