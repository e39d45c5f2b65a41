/**
 * Real git on the host, run the way the workspace's owner would run it after a warden run: as
 * that user (warden-sandbox in root mode, the test user in user mode), with no global or system
 * config, so only the repository's own config decides what git runs.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { giveToSandbox, SANDBOX_USER, TEST_USER, userIds, type Mode } from './warden.js';

export const HAVE_GIT = existsSync('/usr/bin/git');

/** uid/gid of the user who owns a mode's test workspaces. */
export function workspaceOwner(mode: Mode): { uid: number; gid: number } {
  const ids = userIds(mode === 'root' ? SANDBOX_USER : TEST_USER);
  if (ids === null) throw new Error(`user for mode ${mode} missing: run scripts/setup.sh --test-user`);
  return { uid: ids.uid, gid: ids.gid };
}

/** `git ARGS` in `cwd` as the workspace owner; never throws. */
export function hostGit(mode: Mode, cwd: string, args: readonly string[]): SpawnSyncReturns<string> {
  const { uid, gid } = workspaceOwner(mode);
  return spawnSync(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--clear-groups',
      '--',
      'env',
      '-i',
      'PATH=/usr/bin:/bin',
      'HOME=/nonexistent',
      'GIT_CONFIG_NOSYSTEM=1',
      'LANG=C.UTF-8',
      'git',
      '-c',
      'user.email=owner@example.com',
      '-c',
      'user.name=owner',
      ...args,
    ],
    { cwd, encoding: 'utf8', timeout: 30_000 },
  );
}

/** Like hostGit, failing with git's own message when git fails. */
export function hostGitOk(mode: Mode, cwd: string, args: readonly string[]): string {
  const r = hostGit(mode, cwd, args);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${String(r.status)}): ${r.stderr}`);
  return r.stdout;
}

/** A repository at `dir` (owned by the workspace owner) with one commit of `files` (paths relative to dir). */
export function makeRepo(
  mode: Mode,
  dir: string,
  files: Readonly<Record<string, string>> = { 'README.md': 'hello\n' },
): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
  }
  giveToSandbox(mode, dir);
  hostGitOk(mode, dir, ['init', '-q', '-b', 'main', '.']);
  hostGitOk(mode, dir, ['add', '-A']);
  hostGitOk(mode, dir, ['commit', '-q', '-m', 'initial']);
}
