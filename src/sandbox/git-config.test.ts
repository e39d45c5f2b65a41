import { describe, expect, it } from 'vitest';
import { GitConfigSyntaxError, entryKey, parseGitConfig } from './git-config.js';

const keys = (text: string): string[] => parseGitConfig(text).map((e) => `${entryKey(e)}=${e.value ?? '<true>'}`);

describe('parseGitConfig', () => {
  it('reads sections, subsections, legacy headers and bare booleans', () => {
    const text =
      '[core]\n\tbare = false\n\tfilemode\n[remote "Origin"]\n\turl = https://x/y.git\n[Branch.Main]\n\tremote = origin\n';
    expect(keys(text)).toEqual([
      'core.bare=false',
      'core.filemode=<true>',
      'remote.Origin.url=https://x/y.git',
      'branch.main.remote=origin',
    ]);
  });

  it('lower-cases section and variable names but keeps quoted subsections as written', () => {
    expect(keys('[CORE]\n\tHooksPath = .husky\n[Filter "LFS"]\n\tProcess = x\n')).toEqual([
      'core.hookspath=.husky',
      'filter.LFS.process=x',
    ]);
  });

  it('handles quotes, escapes, comments, continuations and trailing blanks like git', () => {
    const text =
      '[alias]\n\ta = "!echo  #not a comment" # comment\n\tb = one \\\n two\n\tc = x\\ty  \n\td = "  kept  "\n; whole-line comment\n# another\n';
    expect(parseGitConfig(text).map((e) => e.value)).toEqual(['!echo  #not a comment', 'one  two', 'x\ty', '  kept  ']);
  });

  it('allows a variable on the header line and CRLF line ends', () => {
    expect(keys('[core] fsmonitor = run-me\r\n[user]\r\n\tname = a\r\n')).toEqual([
      'core.fsmonitor=run-me',
      'user.name=a',
    ]);
  });

  it('reads subsections with escaped quotes and backslashes', () => {
    expect(parseGitConfig('[remote "a\\"b\\\\c"]\n\turl = u\n')[0]?.subsection).toBe('a"b\\c');
  });

  it.each([
    ['a variable before any section', 'name = x\n'],
    ['an unterminated header', '[core\n'],
    ['an unterminated subsection', '[remote "x]\n'],
    ['an unknown escape', '[core]\n\tx = a\\qb\n'],
    ['a quoted value running past the line', '[core]\n\tx = "abc\n"\n'],
    ['a junk line', '[core]\n\t= value\n'],
    ['a name with a bad character', '[core]\n\tx_y = 1\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parseGitConfig(text)).toThrow(GitConfigSyntaxError);
  });

  it('names the line of a syntax error', () => {
    expect(() => parseGitConfig('[core]\n\tok = 1\n\tbad = "x\n')).toThrow(/^line 3:/);
  });

  it('refuses a config larger than the bound', () => {
    expect(() => parseGitConfig(`[core]\n\tx = ${'a'.repeat(1024 * 1024)}\n`)).toThrow(/larger than/);
  });
});
