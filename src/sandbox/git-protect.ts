/**
 * Paths outside the fixed write-deny list that the host's git will run code from, found in the
 * repositories' own config (SBX-06, SBX-20): a core.hooksPath inside the workspace (e.g. `.husky/`;
 * husky 9's `.husky/_` hooks run `.husky/<hook>`, so its parent too), files pulled in by
 * include.path / includeIf.*.path, and scripts that command-valued keys name by path (e.g.
 * `filter.lfs.process = ./tools/filter`). A sandbox that could write any of them would have the
 * user's next `git commit` or `git status` run the agent's code on the host.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { WardenError } from '../core/errors.js';
import { keyPattern, MAX_GIT_CONFIG_BYTES, parseGitConfig, type GitConfigEntry } from './git-config.js';
import { commandWords } from './named-scripts.js';

/** Keys whose value git runs as a command, as keyPattern() writes them. */
const COMMAND_KEYS = new Set([
  'core.fsmonitor',
  'core.sshcommand',
  'core.pager',
  'core.editor',
  'core.askpass',
  'core.gitproxy',
  'core.alternaterefscommand',
  'sequence.editor',
  'gpg.program',
  'gpg.*.program',
  'credential.helper',
  'credential.*.helper',
  'diff.external',
  'interactive.difffilter',
  'uploadpack.packobjectshook',
  'diff.*.command',
  'diff.*.textconv',
  'merge.*.driver',
  'filter.*.clean',
  'filter.*.smudge',
  'filter.*.process',
  'difftool.*.cmd',
  'mergetool.*.cmd',
  'trailer.*.command',
  'trailer.*.cmd',
  'remote.*.uploadpack',
  'remote.*.receivepack',
]);

/** How many include levels are followed: git's own limit (config.c MAX_INCLUDE_DEPTH), after which git refuses the config. */
const MAX_INCLUDE_DEPTH = 10;

export interface GitProtectOptions {
  /** The host user's home, for `~/` in paths and the global config; null to skip both. */
  readonly home: string | null;
  /** Config files beside the repository's own (the host's global and system config). */
  readonly extraConfigFiles?: readonly string[];
}

/** A repository whose config warden reads: where its checkout is and which config files git reads for it. */
export interface RepoConfig {
  /** The top of the checkout: hooks run there, and relative hooksPath and commands resolve against it. */
  readonly worktree: string;
  /** The repository's config files in git's order (the common config, then config.worktree). */
  readonly configFiles: readonly string[];
}

/**
 * Absolute paths the host's git runs code from, for every repository in `repos`. A trailing '/'
 * marks a directory. Throws WORKSPACE_INVALID when a repository's config cannot be read exactly:
 * warden cannot tell what it would have to protect.
 */
export function gitCodePaths(repos: readonly RepoConfig[], options: GitProtectOptions): string[] {
  const found = new Set<string>();
  const globalEntries: GitConfigEntry[] = [];
  for (const file of options.extraConfigFiles ?? defaultGlobalConfigFiles(options.home)) {
    // The user's own global config is theirs and outside the sandbox's reach; one git cannot
    // read is not warden's to refuse, so it adds nothing rather than stopping the run.
    try {
      globalEntries.push(...readWithIncludes(file, options.home, 0, found));
    } catch {
      continue;
    }
  }
  for (const repo of repos) {
    const entries = [...globalEntries];
    for (const file of repo.configFiles) {
      if (!existsSync(file)) continue;
      try {
        entries.push(...readWithIncludes(file, options.home, 0, found));
      } catch (error) {
        throw new WardenError('WORKSPACE_INVALID', `cannot read ${file} exactly: ${(error as Error).message}`, {
          hint: 'fix the file (git config --file FILE --list shows what git makes of it) so warden can find the hooks and scripts it must keep read-only',
        });
      }
    }
    for (const path of codePathsFrom(entries, repo.worktree, options.home)) found.add(path);
  }
  return [...found];
}

/** Entries of `file` and of the files it includes; every included file is added to `found` (it is code too). */
function readWithIncludes(file: string, home: string | null, depth: number, found: Set<string>): GitConfigEntry[] {
  if (statSync(file).size > MAX_GIT_CONFIG_BYTES) throw new Error(`larger than ${MAX_GIT_CONFIG_BYTES} bytes`);
  const entries = parseGitConfig(readFileSync(file, 'utf8'));
  if (depth >= MAX_INCLUDE_DEPTH) return entries;
  const all = [...entries];
  for (const entry of entries) {
    const isInclude = (entry.section === 'include' && entry.subsection === null) || entry.section === 'includeif';
    if (!isInclude || entry.name !== 'path' || entry.value === null || entry.value === '') continue;
    const target = expandPath(entry.value, dirname(file), home);
    if (target === null) continue;
    found.add(target);
    if (existsSync(target)) all.push(...readWithIncludes(target, home, depth + 1, found));
  }
  return all;
}

function codePathsFrom(entries: readonly GitConfigEntry[], worktree: string, home: string | null): string[] {
  const paths: string[] = [];
  for (const entry of entries) {
    if (entry.value === null || entry.value === '') continue;
    if (entry.section === 'core' && entry.subsection === null && entry.name === 'hookspath') {
      // A relative hooksPath is relative to where hooks run: the top of the worktree.
      const dir = expandPath(entry.value, worktree, home);
      if (dir === null) continue;
      const bare = dir.replace(/\/+$/, '');
      paths.push(`${bare}/`);
      // husky 9: core.hooksPath=.husky/_, whose generated hooks run ../<hook> (.husky/pre-commit).
      if (basename(bare) === '_') paths.push(`${dirname(bare)}/`);
      continue;
    }
    const isCommand = COMMAND_KEYS.has(keyPattern(entry));
    const isAlias = entry.section === 'alias' || (entry.section === 'pager' && entry.subsection === null);
    if (!isCommand && !isAlias) continue;
    // A bare program is looked up on PATH; a path, or a script given to an interpreter, names a
    // file warden can protect (commandWords takes only those).
    for (const word of commandWords(entry.value.replace(/^!/, ''), worktree)) {
      const file = expandPath(word, worktree, home);
      if (file !== null) paths.push(file);
    }
  }
  return paths;
}

/** `~/x` against home, relative against `base`; null when `~` cannot be expanded. */
function expandPath(value: string, base: string, home: string | null): string | null {
  if (value === '~' || value.startsWith('~/')) return home === null ? null : join(home, value.slice(1));
  if (value.startsWith('~')) return null; // ~user: another user's home, never a sandbox's writable root
  return isAbsolute(value) ? resolve(value) : resolve(base, value);
}

function defaultGlobalConfigFiles(home: string | null): string[] {
  const files = ['/etc/gitconfig'];
  if (home !== null) {
    files.push(join(home, '.gitconfig'));
    files.push(join(process.env['XDG_CONFIG_HOME'] ?? join(home, '.config'), 'git', 'config'));
  }
  return files.filter((file) => existsSync(file));
}
