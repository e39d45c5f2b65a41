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
const repo = (): { worktree: string; configFiles: string[] } => ({
  worktree: ws,
  configFiles: [join(ws, '.git', 'config'), join(ws, '.git', 'config.worktree')],
});
const paths = (home: string | null = null): string[] => gitCodePaths([repo()], { home, extraConfigFiles: [] }).sort();

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
    expect(gitCodePaths([repo()], { home: ws, extraConfigFiles: [global] })).toEqual([`${ws}/hooks/`]);
  });

  it('gives nothing for a workspace that is not a repository', () => {
    rmSync(join(ws, '.git'), { recursive: true });
    expect(paths()).toEqual([]);
  });

  it("SBX-20 husky 9's core.hooksPath=.husky/_ protects .husky/ too: its hooks run .husky/<hook>", () => {
    config('[core]\n\thooksPath = .husky/_\n');
    expect(paths()).toEqual([`${ws}/.husky/`, `${ws}/.husky/_/`]);
  });

  it('takes the script an interpreter runs (sh tools/x.sh), not only a program given by path', () => {
    config('[core]\n\tfsmonitor = sh tools/watch.sh\n[alias]\n\tfmt = !node scripts/fmt.js --write\n');
    expect(paths()).toEqual([`${ws}/scripts/fmt.js`, `${ws}/tools/watch.sh`]);
  });

  it('follows includes as deep as git does (10 levels), not fewer', () => {
    for (let i = 1; i <= 9; i++) writeFileSync(join(ws, `inc${i}`), `[include]\n\tpath = inc${i + 1}\n`);
    writeFileSync(join(ws, 'inc10'), '[core]\n\thooksPath = deep-hooks\n');
    config('[include]\n\tpath = ../inc1\n');
    expect(paths()).toContain(`${ws}/deep-hooks/`);
  });
});
