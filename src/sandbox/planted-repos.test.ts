import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quarantinePlantedRepositories } from './planted-repos.js';

let ws: string;
beforeEach(() => {
  ws = realpathSync(mkdtempSync(join(tmpdir(), 'warden-planted-')));
});
afterEach(() => rmSync(ws, { recursive: true, force: true }));

/** A minimal git directory at `dir` (what git needs to call it a repository), with `config`. */
function gitDir(dir: string, config: string | null, hooks: Record<string, string> = {}): void {
  mkdirSync(join(dir, 'objects'), { recursive: true });
  mkdirSync(join(dir, 'refs'), { recursive: true });
  writeFileSync(join(dir, 'HEAD'), 'ref: refs/heads/main\n');
  if (config !== null) writeFileSync(join(dir, 'config'), config);
  mkdirSync(join(dir, 'hooks'), { recursive: true });
  for (const [name, body] of Object.entries(hooks)) writeFileSync(join(dir, 'hooks', name), body, { mode: 0o755 });
}

const scan = (since = Date.now(), roots = [ws]) => quarantinePlantedRepositories(roots, { since, runId: 'run_T' });

describe('quarantinePlantedRepositories (SBX-06)', () => {
  it('moves a new nested .git whose config runs a command, and says why', () => {
    gitDir(join(ws, 'pkg', '.git'), '[core]\n\tfsmonitor = "touch /tmp/x"\n');
    const result = scan();
    expect(result.quarantined).toHaveLength(1);
    expect(result.quarantined[0]).toMatchObject({
      gitDir: join(ws, 'pkg', '.git'),
      movedTo: join(ws, 'pkg', '.git.warden-quarantine-run_T'),
    });
    expect(result.quarantined[0]?.reason).toContain('core.fsmonitor');
    expect(existsSync(join(ws, 'pkg', '.git'))).toBe(false);
    expect(result.complete).toBe(true);
  });

  it('moves HEAD aside in a planted bare repository or module git directory', () => {
    gitDir(join(ws, 'bare'), '[core]\n\tbare = true\n', { 'post-checkout': '#!/bin/sh\n' });
    const result = scan();
    expect(result.quarantined.map((r) => r.reason)).toEqual(['it has a hook, hooks/post-checkout']);
    expect(readdirSync(join(ws, 'bare'))).toContain('HEAD.warden-quarantine-run_T');
    expect(existsSync(join(ws, 'bare', 'HEAD'))).toBe(false);
  });

  it.each([
    ['a commondir', (d: string) => writeFileSync(join(d, 'commondir'), '../elsewhere\n'), 'commondir'],
    ['an include', (d: string) => writeFileSync(join(d, 'config'), '[include]\n\tpath = ../../x\n'), 'include.path'],
    ['an unreadable config', (d: string) => writeFileSync(join(d, 'config'), '[core\n'), 'cannot be read exactly'],
    [
      'a config that is a link',
      (d: string) => {
        rmSync(join(d, 'config'));
        symlinkSync('/etc/gitconfig', join(d, 'config'));
      },
      'not a regular file',
    ],
    [
      'hooks that are a link',
      (d: string) => {
        rmSync(join(d, 'hooks'), { recursive: true });
        symlinkSync('/tmp', join(d, 'hooks'));
      },
      'hooks is not a directory',
    ],
  ])('quarantines a changed repository with %s', (_what, plant, reason) => {
    const dir = join(ws, 'a', '.git');
    gitDir(dir, '[core]\n\tbare = false\n');
    plant(dir);
    expect(scan().quarantined[0]?.reason).toContain(reason);
  });

  it('leaves a new repository alone when it holds only data settings and sample hooks', () => {
    gitDir(
      join(ws, 'vendor', 'lib', '.git'),
      '[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote "origin"]\n\turl = https://example.com/x.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n',
      { 'pre-commit.sample': '#!/bin/sh\n' },
    );
    expect(scan().quarantined).toEqual([]);
    expect(existsSync(join(ws, 'vendor', 'lib', '.git', 'HEAD'))).toBe(true);
  });

  it("leaves repositories the run did not change alone, even with code-running config (they are the user's)", () => {
    const dir = join(ws, 'old', '.git');
    gitDir(dir, '[core]\n\teditor = vim\n', { 'pre-commit': '#!/bin/sh\n' });
    // Everything was written before the run started: ctimes are older than `since`.
    expect(scan(Date.now() + 10_000).quarantined).toEqual([]);
  });

  it('sees through mtimes set back: only ctime decides what changed', () => {
    const dir = join(ws, 'p', '.git');
    gitDir(dir, '[core]\n\tfsmonitor = x\n');
    const old = new Date('2001-01-01');
    utimesSync(join(dir, 'config'), old, old);
    expect(scan().quarantined).toHaveLength(1);
  });

  it('skips the top-level .git of each root (mounts protect it) but checks repositories inside it', () => {
    gitDir(join(ws, '.git'), '[core]\n\teditor = vim\n', { 'pre-commit': '#!/bin/sh\n' });
    gitDir(join(ws, '.git', 'modules', 'sub'), '[core]\n\tworktree = ../../../sub\n\tsshCommand = ./evil\n');
    const result = scan();
    expect(result.quarantined.map((r) => r.gitDir)).toEqual([join(ws, '.git', 'modules', 'sub')]);
    expect(existsSync(join(ws, '.git', 'HEAD'))).toBe(true);
  });

  it('does not follow symlinks while walking', () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'warden-planted-outside-')));
    try {
      gitDir(join(outside, 'r', '.git'), '[core]\n\tfsmonitor = x\n');
      symlinkSync(outside, join(ws, 'link'));
      expect(scan().quarantined).toEqual([]);
      expect(existsSync(join(outside, 'r', '.git', 'HEAD'))).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('stops at the entry bound and says the check is incomplete', () => {
    for (let i = 0; i < 50; i++) mkdirSync(join(ws, `d${i}`));
    const result = quarantinePlantedRepositories([ws], { since: Date.now(), runId: 'run_T', maxEntries: 10 });
    expect(result.complete).toBe(false);
  });

  it('reports a rename it could not make instead of claiming success', () => {
    const parent = join(ws, 'ro');
    gitDir(join(parent, '.git'), '[core]\n\tfsmonitor = x\n');
    chmodSync(parent, 0o555);
    try {
      const [repo] = scan().quarantined;
      // root can rename anyway; an ordinary user cannot, and then movedTo is null with the error.
      if (process.getuid?.() === 0) expect(repo?.movedTo).not.toBeNull();
      else expect(repo).toMatchObject({ movedTo: null, error: expect.stringContaining('EACCES') as unknown });
    } finally {
      chmodSync(parent, 0o755);
    }
  });
});
