import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostExecBaseline } from './host-exec.js';
import { checkAfterRun, type PostRunOptions, type PostRunReport } from './post-run.js';

let ws: string;
beforeEach(() => {
  ws = realpathSync(mkdtempSync(join(tmpdir(), 'warden-post-run-')));
});
afterEach(() => {
  spawnSync('chmod', ['-R', 'u+rwx', ws]);
  rmSync(ws, { recursive: true, force: true });
});

/** A minimal git directory at `dir` (what git needs to call it a repository), with `config`. */
function gitDir(dir: string, config: string | null, hooks: Record<string, string> = {}): void {
  mkdirSync(join(dir, 'objects'), { recursive: true });
  mkdirSync(join(dir, 'refs'), { recursive: true });
  writeFileSync(join(dir, 'HEAD'), 'ref: refs/heads/main\n');
  if (config !== null) writeFileSync(join(dir, 'config'), config);
  mkdirSync(join(dir, 'hooks'), { recursive: true });
  for (const [name, body] of Object.entries(hooks)) writeFileSync(join(dir, 'hooks', name), body, { mode: 0o755 });
}

function touch(path: string, content = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

const scan = (since = Date.now(), roots = [ws], extra: Partial<PostRunOptions> = {}): PostRunReport =>
  checkAfterRun(roots, { since, runId: 'run_T', ...extra });
const git = (report: PostRunReport) => report.findings.filter((f) => f.kind === 'git_planted');

describe('checkAfterRun: repositories (SBX-06, SBX-21)', () => {
  it('moves a new nested .git whose config runs a command, and says why', () => {
    gitDir(join(ws, 'pkg', '.git'), '[core]\n\tfsmonitor = "touch /tmp/x"\n');
    const result = scan();
    expect(git(result)).toHaveLength(1);
    expect(git(result)[0]).toMatchObject({
      path: join(ws, 'pkg', '.git'),
      action: 'quarantined',
      movedTo: join(ws, 'pkg', '.git.warden-quarantine-run_T'),
    });
    expect(git(result)[0]?.reason).toContain('core.fsmonitor');
    expect(existsSync(join(ws, 'pkg', '.git'))).toBe(false);
    // HEAD is moved aside too: renaming .git back does not make it a repository again.
    expect(readdirSync(join(ws, 'pkg', '.git.warden-quarantine-run_T'))).toContain('HEAD.warden-quarantine-run_T');
    expect(result.complete).toBe(true);
  });

  it('moves HEAD aside in a planted bare repository or module git directory', () => {
    gitDir(join(ws, 'bare'), '[core]\n\tbare = true\n', { 'post-checkout': '#!/bin/sh\n' });
    const result = scan();
    expect(git(result).map((r) => r.reason)).toEqual(['it has a hook, hooks/post-checkout']);
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
    expect(git(scan())[0]?.reason).toContain(reason);
  });

  it('leaves a new repository alone when it holds only data settings and sample hooks', () => {
    gitDir(
      join(ws, 'vendor', 'lib', '.git'),
      '[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote "origin"]\n\turl = https://example.com/x.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n',
      { 'pre-commit.sample': '#!/bin/sh\n' },
    );
    expect(scan().findings).toEqual([]);
    expect(existsSync(join(ws, 'vendor', 'lib', '.git', 'HEAD'))).toBe(true);
  });

  it("leaves repositories the run did not change alone, even with code-running config (they are the user's)", () => {
    const dir = join(ws, 'old', '.git');
    gitDir(dir, '[core]\n\teditor = vim\n', { 'pre-commit': '#!/bin/sh\n' });
    // Everything was written before the run started: ctimes are older than `since`.
    expect(scan(Date.now() + 10_000).findings).toEqual([]);
  });

  it('sees through mtimes set back: only ctime decides what changed', () => {
    const dir = join(ws, 'p', '.git');
    gitDir(dir, '[core]\n\tfsmonitor = x\n');
    const old = new Date('2001-01-01');
    utimesSync(join(dir, 'config'), old, old);
    expect(git(scan())).toHaveLength(1);
  });

  it('SBX-21 finds a git dir planted inside another repository’s objects/, refs/ and logs/', () => {
    gitDir(join(ws, '.git'), '[core]\n\tbare = false\n');
    for (const where of ['objects/ab/x', 'refs/heads/y', 'logs/refs/z']) {
      gitDir(join(ws, '.git', where), '[core]\n\tfsmonitor = "touch /tmp/pwned"\n');
    }
    const baseline: HostExecBaseline = {
      since: Date.now(),
      roots: [ws],
      existing: [join(ws, '.git/config'), join(ws, '.git/hooks')],
      absent: [],
      gitDirs: [join(ws, '.git')],
    };
    const found = git(scan(Date.now(), [ws], { baseline })).map((f) => f.path);
    expect(found.sort()).toEqual(
      ['logs/refs/z', 'objects/ab/x', 'refs/heads/y'].map((where) => join(ws, '.git', where)).sort(),
    );
    // The user's own repository stays.
    expect(existsSync(join(ws, '.git', 'HEAD'))).toBe(true);
  });

  it('SBX-21 follows a gitfile to the git dir it names, and quarantines one pointing outside the writable roots', () => {
    gitDir(join(ws, 'hidden', 'store'), '[core]\n\tfsmonitor = x\n');
    touch(join(ws, 'front', '.git'), 'gitdir: ../hidden/store\n');
    touch(join(ws, 'away', '.git'), 'gitdir: /var/lib/somewhere/.git\n');
    const result = scan();
    expect(git(result).map((f) => f.path)).toEqual(
      expect.arrayContaining([join(ws, 'hidden', 'store'), join(ws, 'away', '.git')]),
    );
    expect(existsSync(join(ws, 'hidden', 'store', 'HEAD'))).toBe(false);
    expect(existsSync(join(ws, 'away', '.git'))).toBe(false);
  });

  it('SBX-21 a directory made unreadable is read anyway (made readable to its owner, or read as root)', () => {
    gitDir(join(ws, 'locked', 'inner', '.git'), '[core]\n\tfsmonitor = x\n');
    chmodSync(join(ws, 'locked'), 0o000);
    const result = scan();
    expect(git(result).map((f) => f.path)).toEqual([join(ws, 'locked', 'inner', '.git')]);
    if (process.getuid?.() !== 0)
      expect(result.findings).toContainEqual(
        expect.objectContaining({ path: join(ws, 'locked'), kind: 'unreadable_dir', action: 'made_readable' }),
      );
  });

  it('SBX-21 a quarantined repository whose HEAD is renamed back is caught again', () => {
    gitDir(join(ws, 'r'), '[core]\n\tfsmonitor = x\n');
    scan();
    // A later run renames HEAD back (its config is old by then).
    const later = Date.now() + 5_000;
    const old = new Date('2001-01-01');
    utimesSync(join(ws, 'r', 'config'), old, old);
    spawnSync('mv', [join(ws, 'r', 'HEAD.warden-quarantine-run_T'), join(ws, 'r', 'HEAD')]);
    // ctime of HEAD is now; pretend the run started a moment before the rename.
    const result = checkAfterRun([ws], { since: later - 5_000, runId: 'run_U' });
    expect(git(result).map((f) => f.path)).toEqual([join(ws, 'r')]);
  });

  it('in a protected repository quarantines only the entry the run added (a commondir, new hooks), not the repository', () => {
    gitDir(join(ws, '.git'), '[core]\n\tbare = false\n');
    rmSync(join(ws, '.git', 'hooks'), { recursive: true });
    writeFileSync(join(ws, '.git', 'commondir'), '../evil\n');
    mkdirSync(join(ws, '.git', 'hooks'));
    writeFileSync(join(ws, '.git', 'hooks', 'post-checkout'), '#!/bin/sh\n');
    const baseline: HostExecBaseline = {
      since: Date.now(),
      roots: [ws],
      existing: [join(ws, '.git/config')],
      absent: [],
      gitDirs: [join(ws, '.git')],
    };
    const result = scan(Date.now(), [ws], { baseline });
    expect(
      git(result)
        .map((f) => f.path)
        .sort(),
    ).toEqual([join(ws, '.git/commondir'), join(ws, '.git/hooks')]);
    expect(existsSync(join(ws, '.git', 'HEAD'))).toBe(true);
    expect(existsSync(join(ws, '.git', 'commondir'))).toBe(false);
  });

  it("accepts a new linked worktree's commondir when it names its own repository (git worktree add)", () => {
    gitDir(join(ws, '.git'), '[core]\n\tbare = false\n');
    const wt = join(ws, '.git', 'worktrees', 'feature');
    touch(join(wt, 'HEAD'), 'ref: refs/heads/feature\n');
    touch(join(wt, 'commondir'), '../..\n');
    touch(join(wt, 'gitdir'), `${join(ws, 'feature', '.git')}\n`);
    touch(join(ws, 'feature', '.git'), `gitdir: ${wt}\n`);
    expect(scan().findings).toEqual([]);
    writeFileSync(join(wt, 'commondir'), '../../../elsewhere\n');
    expect(git(scan()).map((f) => f.path)).toEqual([wt]);
  });

  it('does not follow symlinks while walking', () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'warden-post-run-outside-')));
    try {
      gitDir(join(outside, 'r', '.git'), '[core]\n\tfsmonitor = x\n');
      symlinkSync(outside, join(ws, 'link'));
      expect(scan().findings).toEqual([]);
      expect(existsSync(join(outside, 'r', '.git', 'HEAD'))).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('stops at the entry bound and says the check is incomplete', () => {
    for (let i = 0; i < 50; i++) mkdirSync(join(ws, `d${i}`));
    expect(scan(Date.now(), [ws], { maxEntries: 10 }).complete).toBe(false);
  });

  it('stops at the time bound and says the check is incomplete', () => {
    for (let i = 0; i < 50; i++) mkdirSync(join(ws, `d${i}`));
    expect(scan(Date.now(), [ws], { maxMs: -1 }).complete).toBe(false);
  });

  it('reports a rename it could not make instead of claiming success', () => {
    const parent = join(ws, 'ro');
    gitDir(join(parent, '.git'), '[core]\n\tfsmonitor = x\n');
    chmodSync(parent, 0o555);
    try {
      const [repo] = git(scan());
      // root can rename anyway; an ordinary user cannot, and then movedTo is null with the error.
      if (process.getuid?.() === 0) expect(repo?.movedTo).not.toBeNull();
      else expect(repo).toMatchObject({ movedTo: null, error: expect.stringContaining('EACCES') as unknown });
    } finally {
      chmodSync(parent, 0o755);
    }
  });
});

describe('checkAfterRun: protected entries the run created (SBX-06, SBX-20)', () => {
  const baselineFor = (absent: HostExecBaseline['absent']): HostExecBaseline => ({
    since: Date.now(),
    roots: [ws],
    existing: [],
    absent,
    gitDirs: [],
  });

  it.each([
    ['.bashrc', 'code', 'echo hi\n'],
    ['.envrc', 'code', 'export X=1\n'],
    ['.pre-commit-config.yaml', 'code', 'repos: []\n'],
  ] as const)('SBX-20 a new %s is quarantined (renamed, not deleted)', (name, policy, content) => {
    touch(join(ws, name), content);
    const result = scan(Date.now(), [ws], { baseline: baselineFor([{ path: join(ws, name), policy }]) });
    expect(result.findings).toEqual([
      expect.objectContaining({
        path: join(ws, name),
        kind: 'host_exec_planted',
        action: 'quarantined',
        movedTo: join(ws, `${name}.warden-quarantine-run_T`),
      }),
    ]);
    expect(existsSync(join(ws, `${name}.warden-quarantine-run_T`))).toBe(true);
  });

  it('SBX-20 a new IDE directory is quarantined whole', () => {
    touch(join(ws, '.vscode', 'tasks.json'), '{}');
    const result = scan(Date.now(), [ws], { baseline: baselineFor([{ path: join(ws, '.vscode'), policy: 'code' }]) });
    expect(result.findings.map((f) => f.movedTo)).toEqual([join(ws, '.vscode.warden-quarantine-run_T')]);
  });

  it.each([
    ['{"mcpServers": {"x": {"command": "node", "args": ["evil.js"]}}}', true],
    ['{"mcpServers": {"remote": {"type": "http", "url": "https://example.com/mcp"}}}', true],
    ['not json', true],
    ['{"mcpServers": {}}', false],
    ['{}', false],
  ])('SBX-20 a new .mcp.json %s is quarantined: %s', (content, quarantined) => {
    touch(join(ws, '.mcp.json'), content);
    const result = scan(Date.now(), [ws], {
      baseline: baselineFor([{ path: join(ws, '.mcp.json'), policy: 'mcp-servers' }]),
    });
    expect(result.findings.length).toBe(quarantined ? 1 : 0);
    expect(existsSync(join(ws, '.mcp.json'))).toBe(!quarantined);
  });

  it.each([
    [{ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'curl evil' }] }] } }, 'hooks'],
    [{ env: { NODE_OPTIONS: '--require ./x.js' } }, 'env'],
    [{ statusLine: { type: 'command', command: './s.sh' } }, 'statusLine'],
    [{ permissions: { allow: ['Bash(*)'] } }, 'permissions.allow'],
    [{ permissions: { defaultMode: 'bypassPermissions' } }, 'permissions.defaultMode'],
    [{ enableAllProjectMcpServers: true }, 'enableAllProjectMcpServers'],
  ])('SBX-20 a new .claude/settings.json with %j is quarantined', (settings, key) => {
    touch(join(ws, '.claude', 'settings.json'), JSON.stringify(settings));
    const result = scan(Date.now(), [ws], {
      baseline: baselineFor([{ path: join(ws, '.claude', 'settings.json'), policy: 'agent-settings' }]),
    });
    expect(result.findings[0]?.reason).toContain(key);
    expect(existsSync(join(ws, '.claude', 'settings.json'))).toBe(false);
  });

  it('leaves a new .claude/settings.local.json that only holds data or takes rights away', () => {
    touch(
      join(ws, '.claude', 'settings.local.json'),
      JSON.stringify({ model: 'x', permissions: { deny: ['Bash(rm:*)'], ask: [] } }),
    );
    const result = scan(Date.now(), [ws], {
      baseline: baselineFor([{ path: join(ws, '.claude', 'settings.local.json'), policy: 'agent-settings' }]),
    });
    expect(result.findings).toEqual([]);
  });

  it('without a baseline, judges protected entries at the top of each root that changed since `since`', () => {
    touch(join(ws, '.zshrc'), 'evil\n');
    expect(scan().findings.map((f) => f.path)).toEqual([join(ws, '.zshrc')]);
    touch(join(ws, '.zlogin'), 'old\n');
    expect(scan(Date.now() + 10_000).findings).toEqual([]);
  });

  it('never acts outside the roots, even through a symlinked parent', () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'warden-post-run-outside-')));
    try {
      touch(join(outside, 'settings.json'), '{"hooks": {}}');
      symlinkSync(outside, join(ws, '.claude'));
      const result = scan(Date.now(), [ws], {
        baseline: baselineFor([{ path: join(ws, '.claude', 'settings.json'), policy: 'agent-settings' }]),
      });
      expect(result.findings).toEqual([]);
      expect(existsSync(join(outside, 'settings.json'))).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('checkAfterRun: setuid files and special files (SBX-22)', () => {
  it('SBX-22 strips setuid and setgid bits from files the run made', () => {
    touch(join(ws, 'bin', 'tool'));
    chmodSync(join(ws, 'bin', 'tool'), 0o6755);
    const result = scan();
    expect(result.findings).toEqual([
      expect.objectContaining({ path: join(ws, 'bin', 'tool'), kind: 'setuid', action: 'stripped' }),
    ]);
    expect(statSync(join(ws, 'bin', 'tool')).mode & 0o7777).toBe(0o755);
  });

  it('SBX-22 removes FIFOs and unix sockets the run made, and leaves older ones', () => {
    const since = Date.now();
    expect(spawnSync('mkfifo', [join(ws, 'pipe')]).status).toBe(0);
    const server = spawnSync('python3', [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])',
      join(ws, 'sock'),
    ]);
    expect(server.status).toBe(0);
    expect(scan(Date.now() + 10_000).findings).toEqual([]);
    const result = scan(since);
    expect(result.findings.map((f) => [f.path, f.kind, f.action]).sort()).toEqual([
      [join(ws, 'pipe'), 'special_file', 'removed'],
      [join(ws, 'sock'), 'special_file', 'removed'],
    ]);
    expect(existsSync(join(ws, 'pipe'))).toBe(false);
  });

  it('leaves setuid files the run did not make (their directory unchanged) and setgid directories alone', () => {
    touch(join(ws, 'old', 'tool'));
    chmodSync(join(ws, 'old', 'tool'), 0o4755);
    mkdirSync(join(ws, 'shared'));
    chmodSync(join(ws, 'shared'), 0o2775);
    expect(scan(Date.now() + 10_000).findings).toEqual([]);
    expect(statSync(join(ws, 'shared')).mode & 0o7777).toBe(0o2775);
    expect(lstatSync(join(ws, 'old', 'tool')).mode & 0o7777).toBe(0o4755);
  });
});
