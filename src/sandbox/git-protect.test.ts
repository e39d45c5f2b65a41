import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWardenError } from '../core/errors.js';
import { gitCodePaths } from './git-protect.js';

let dir: string;
let ws: string;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-git-protect-')));
  ws = join(dir, 'ws');
  mkdirSync(join(ws, '.git'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const config = (text: string): void => writeFileSync(join(ws, '.git', 'config'), text);
const paths = (home: string | null = null): string[] => gitCodePaths([ws], { home, extraConfigFiles: [] }).sort();

describe('gitCodePaths (SBX-06)', () => {
  it('finds a relative core.hooksPath against the worktree, as a directory', () => {
    config('[core]\n\thooksPath = .husky\n');
    expect(paths()).toEqual([`${ws}/.husky/`]);
  });

  it('finds included files and follows them (their hooksPath counts too)', () => {
    writeFileSync(join(ws, 'project.gitconfig'), '[core]\n\thooksPath = tools/hooks\n');
    config('[include]\n\tpath = ../project.gitconfig\n[includeIf "gitdir:~/x/"]\n\tpath = ~/extra.gitconfig\n');
    expect(paths('/home/someone')).toEqual([
      '/home/someone/extra.gitconfig',
      `${ws}/project.gitconfig`,
      `${ws}/tools/hooks/`,
    ]);
  });

  it('finds scripts named by path in command-valued keys, not bare program names', () => {
    config(
      '[core]\n\tfsmonitor = .git-tools/fsmonitor --fast\n\teditor = vim\n[filter "lfs"]\n\tprocess = "./bin/filter x"\n[alias]\n\tlint = !./scripts/lint.sh --all\n\tco = checkout\n[user]\n\tname = ./not/a/command\n',
    );
    expect(paths()).toEqual([`${ws}/.git-tools/fsmonitor`, `${ws}/bin/filter`, `${ws}/scripts/lint.sh`]);
  });

  it('reads config.worktree as well', () => {
    config('[extensions]\n\tworktreeConfig = true\n');
    writeFileSync(join(ws, '.git', 'config.worktree'), '[core]\n\thooksPath = /abs/hooks\n');
    expect(paths()).toEqual(['/abs/hooks/']);
  });

  it('refuses the run when the repository config cannot be read exactly (fail closed)', () => {
    config('[core\n\thooksPath = .husky\n');
    try {
      paths();
      expect.unreachable();
    } catch (error) {
      expect(isWardenError(error) && error.code).toBe('WORKSPACE_INVALID');
      expect((error as Error).message).toContain(join(ws, '.git', 'config'));
    }
  });

  it('takes hooksPath from the global config files it is given', () => {
    const global = join(dir, 'global.gitconfig');
    writeFileSync(global, '[core]\n\thooksPath = ~/hooks\n');
    expect(gitCodePaths([ws], { home: ws, extraConfigFiles: [global] })).toEqual([`${ws}/hooks/`]);
  });

  it('gives nothing for a workspace that is not a repository', () => {
    rmSync(join(ws, '.git'), { recursive: true });
    expect(paths()).toEqual([]);
  });
});
