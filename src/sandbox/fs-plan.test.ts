import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWardenError, type WardenError } from '../core/errors.js';
import {
  MANDATORY_WRITE_DENY,
  isInside,
  mountArgs,
  planMounts,
  type MountOp,
  type MountPlan,
  type PlanContext,
} from './fs-plan.js';
import { SANDBOX_HOME, SANDBOX_LIB, SANDBOX_SOCK, type SandboxSpec } from './spec.js';

let root: string;
let ws: string;
let ctx: PlanContext;

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'warden-fs-plan-')));
  ws = join(root, 'ws');
  mkdirSync(ws);
  const lib = join(root, 'runtime', 'lib-0123456789abcdef');
  ctx = {
    libDir: lib,
    etc: { dir: join(root, 'runtime', 'etc-0123456789abcdef'), directoryBinds: ['/etc/ssl', '/etc/alternatives'] },
    emptyFile: join(lib, 'empty-file'),
    emptyDir: join(lib, 'empty-dir'),
    tmpfsBytes: 256 * 1024 * 1024,
  };
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function spec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    runId: 'run_TEST',
    command: ['true'],
    cwd: ws,
    workspace: ws,
    readOnly: [],
    writable: [],
    deny: [],
    neverVisible: [],
    home: null,
    env: {},
    limits: { memoryBytes: null, pids: null, cpu: null },
    acceptMissingLimits: false,
    forwards: [],
    runDir: join(root, 'runtime', 'run_TEST'),
    user: null,
    stdio: 'pipe',
    ...overrides,
  };
}

function plan(overrides: Partial<SandboxSpec> = {}): MountPlan {
  return planMounts(spec(overrides), ctx);
}

function planError(overrides: Partial<SandboxSpec>): WardenError {
  try {
    plan(overrides);
  } catch (error) {
    if (isWardenError(error)) return error;
    throw error;
  }
  throw new Error('expected planMounts to refuse');
}

function touch(path: string, content = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/**
 * The mount that decides what the sandbox sees at `path`: the last op (bwrap applies them in order)
 * mounted at `path` or at one of its ancestors. remount-ro changes flags only, so it is skipped.
 */
function coveringOp(ops: readonly MountOp[], path: string): { op: MountOp; index: number } | undefined {
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i];
    if (op === undefined || op.op === 'remount-ro') continue;
    if (isInside(path, op.dest)) return { op, index: i };
  }
  return undefined;
}

/** The host path whose content appears at `path` inside the sandbox, or the kind of mount. */
function visibleAt(ops: readonly MountOp[], path: string): string {
  const found = coveringOp(ops, path);
  if (!found) return 'nothing';
  const { op } = found;
  switch (op.op) {
    case 'bind':
    case 'ro-bind':
    case 'ro-bind-try':
      return join(op.src, relative(op.dest, path));
    case 'symlink':
      return `symlink:${op.target}`;
    case 'tmpfs':
    case 'proc':
    case 'dev':
    case 'remount-ro':
      return op.op;
  }
}

/** Whether the sandbox may write at `path` (the covering mount is read-write). */
function writableAt(ops: readonly MountOp[], path: string): boolean {
  const found = coveringOp(ops, path);
  return found !== undefined && (found.op.op === 'bind' || found.op.op === 'tmpfs' || found.op.op === 'dev');
}

function indexOfOp(ops: readonly MountOp[], predicate: (op: MountOp) => boolean): number {
  return ops.findIndex(predicate);
}

describe('planMounts: the base view', () => {
  it('binds /usr read-only, mirrors merged-/usr symlinks, and uses the prepared /etc', () => {
    const { ops } = plan();
    expect(ops[0]).toEqual({ op: 'ro-bind', src: '/usr', dest: '/usr' });
    for (const entry of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
      let expected: MountOp | undefined;
      try {
        expected = lstatSync(entry).isSymbolicLink()
          ? { op: 'symlink', target: readlinkSync(entry), dest: entry }
          : { op: 'ro-bind', src: entry, dest: entry };
      } catch {
        expected = undefined;
      }
      const actual = ops.find((op) => op.dest === entry);
      expect(actual, entry).toEqual(expected);
    }
    expect(visibleAt(ops, '/etc/passwd')).toBe(join(ctx.etc.dir, 'passwd'));
    expect(visibleAt(ops, '/etc/ssl/certs')).toBe('/etc/ssl/certs');
    expect(writableAt(ops, '/etc/ssl')).toBe(false);
    expect(writableAt(ops, '/usr/bin/env')).toBe(false);
  });

  it('SBX-10 the sandbox /proc hides pid 1 (bwrap runs unfiltered)', () => {
    const { ops } = plan();
    const proc = indexOfOp(ops, (op) => op.op === 'proc' && op.dest === '/proc');
    expect(proc).toBeGreaterThanOrEqual(0);
    expect(visibleAt(ops, '/proc/1/mem')).toBe('tmpfs');
    expect(visibleAt(ops, '/proc/2/status')).toBe('proc');
  });

  it('SBX-03 /proc/sys is read-only', () => {
    const { ops } = plan();
    const proc = indexOfOp(ops, (op) => op.op === 'proc');
    const sys = indexOfOp(ops, (op) => op.dest === '/proc/sys');
    expect(ops[sys]).toEqual({ op: 'ro-bind', src: '/proc/sys', dest: '/proc/sys' });
    expect(sys).toBeGreaterThan(proc);
    expect(writableAt(ops, '/proc/sys/kernel/hostname')).toBe(false);
  });

  it('world-readable /proc files that leak host kernel state are masked', () => {
    const { ops } = plan();
    for (const name of ['timer_list', 'sched_debug']) {
      if (existsSync(join('/proc', name))) expect(visibleAt(ops, join('/proc', name))).toBe(ctx.emptyFile);
    }
  });

  it('SBX-17 /tmp, /var/tmp and $HOME are fresh, size-limited tmpfs', () => {
    const { ops } = plan();
    for (const dest of ['/tmp', '/var/tmp', SANDBOX_HOME]) {
      expect(ops).toContainEqual({ op: 'tmpfs', dest, sizeBytes: 256 * 1024 * 1024 });
      expect(visibleAt(ops, join(dest, 'x'))).toBe('tmpfs');
      expect(writableAt(ops, join(dest, 'x'))).toBe(true);
    }
    ctx = { ...ctx, tmpfsBytes: null };
    expect(plan().ops).toContainEqual({ op: 'tmpfs', dest: '/tmp' });
  });

  it("warden's plumbing is read-only: the lib dir and this run's socket dir", () => {
    const { ops } = plan();
    expect(visibleAt(ops, join(SANDBOX_LIB, 'init.sh'))).toBe(join(ctx.libDir, 'init.sh'));
    expect(writableAt(ops, join(SANDBOX_LIB, 'init.sh'))).toBe(false);
    expect(visibleAt(ops, join(SANDBOX_SOCK, 'egress.sock'))).toBe(
      join(root, 'runtime', 'run_TEST', 'sock', 'egress.sock'),
    );
    expect(writableAt(ops, SANDBOX_SOCK)).toBe(false);
  });

  it('SBX-05 the root is remounted read-only, as the very last step', () => {
    const { ops } = plan({ writable: [], deny: [] });
    expect(ops[ops.length - 1]).toEqual({ op: 'remount-ro', dest: '/' });
    expect(ops.filter((op) => op.op === 'remount-ro')).toHaveLength(1);
    expect(writableAt(ops, '/new-file-at-root')).toBe(false);
    expect(writableAt(ops, '/var/lib/x')).toBe(false);
  });

  it("SBX-04 the host's /root, /home and other users' data are not in the view", () => {
    const { ops } = plan();
    for (const path of [
      '/root',
      '/root/.ssh/id_ed25519',
      '/home',
      '/home/alice/.aws/credentials',
      '/var/lib/warden',
      '/run/user/0',
      '/mnt',
      '/media',
      '/srv',
      '/opt',
    ]) {
      const found = coveringOp(ops, path);
      // Nothing bound there: only the read-only root fs created by bwrap (no host content), or a tmpfs.
      if (found) expect(['tmpfs'], `${path} is covered by ${JSON.stringify(found.op)}`).toContain(found.op.op);
    }
    expect(visibleAt(ops, join(SANDBOX_HOME, '.bashrc'))).toBe('tmpfs');
    for (const op of ops) {
      if (op.op === 'bind' || op.op === 'ro-bind' || op.op === 'ro-bind-try') {
        expect(isInside(op.src, '/root') || isInside(op.src, '/home'), `${op.src} is bound`).toBe(false);
      }
    }
  });
});

describe('planMounts: workspace and profile paths', () => {
  it('the workspace and writable paths are bound read-write; read_only paths read-only', () => {
    const extraRo = join(root, 'ro');
    const extraRw = join(root, 'rw');
    mkdirSync(extraRo);
    mkdirSync(extraRw);
    const { ops } = plan({ readOnly: [extraRo], writable: [extraRw] });
    expect(visibleAt(ops, join(ws, 'src/main.ts'))).toBe(join(ws, 'src/main.ts'));
    expect(writableAt(ops, join(ws, 'src/main.ts'))).toBe(true);
    expect(writableAt(ops, join(extraRw, 'out'))).toBe(true);
    expect(visibleAt(ops, join(extraRo, 'x'))).toBe(join(extraRo, 'x'));
    expect(writableAt(ops, join(extraRo, 'x'))).toBe(false);
  });

  it('SBX-06 a read_only path inside the workspace stays read-only (mounted after the workspace)', () => {
    mkdirSync(join(ws, 'vendor'));
    const { ops } = plan({ readOnly: [join(ws, 'vendor')] });
    expect(writableAt(ops, join(ws, 'vendor', 'lib.js'))).toBe(false);
    expect(writableAt(ops, join(ws, 'src.js'))).toBe(true);
  });

  it('a writable path inside a read_only one stays writable; a path in both lists is read-only', () => {
    const data = join(root, 'data');
    mkdirSync(join(data, 'out'), { recursive: true });
    const { ops } = plan({ readOnly: [data, ws], writable: [join(data, 'out')] });
    expect(writableAt(ops, join(data, 'out', 'x'))).toBe(true);
    expect(writableAt(ops, join(data, 'in'))).toBe(false);
    expect(writableAt(ops, join(ws, 'x'))).toBe(false);
  });

  it.each(['/root', '/home', '/etc', '/var'])(
    'SBX-05 a workspace that is the system directory %s is refused',
    (dir) => {
      const error = planError({ workspace: dir, cwd: dir });
      expect(error.code).toBe('PATH_POLICY');
      expect(error.message).toContain('(the workspace)');
    },
  );

  it('without a workspace nothing is bound read-write', () => {
    const { ops } = plan({ workspace: null, cwd: '/' });
    expect(ops.filter((op) => op.op === 'bind')).toEqual([]);
  });

  it('SBX-06 profile deny hides files and directories: empty, unreadable, read-only', () => {
    touch(join(ws, '.env'), 'SECRET=1');
    mkdirSync(join(ws, 'secrets'));
    touch(join(ws, 'secrets/key.pem'));
    const { ops } = plan({ deny: [join(ws, '.env'), join(ws, 'secrets')] });
    expect(visibleAt(ops, join(ws, '.env'))).toBe(ctx.emptyFile);
    expect(visibleAt(ops, join(ws, 'secrets/key.pem'))).toBe(join(ctx.emptyDir, 'key.pem'));
    expect(writableAt(ops, join(ws, '.env'))).toBe(false);
    expect(writableAt(ops, join(ws, 'secrets/new'))).toBe(false);
  });

  it('SBX-06 deny wins over read_only and writable, whatever the order they were given in', () => {
    const extra = join(root, 'data');
    mkdirSync(extra);
    touch(join(extra, 'private.db'));
    touch(join(ws, 'build/token.txt'));
    const { ops } = plan({
      readOnly: [extra],
      writable: [join(ws, 'build')],
      deny: [join(extra, 'private.db'), join(ws, 'build/token.txt')],
    });
    expect(visibleAt(ops, join(extra, 'private.db'))).toBe(ctx.emptyFile);
    expect(visibleAt(ops, join(ws, 'build/token.txt'))).toBe(ctx.emptyFile);
  });

  it('a deny entry that does not exist is skipped (nothing to hide)', () => {
    const { ops } = plan({ deny: [join(ws, 'later.txt')] });
    expect(ops.some((op) => op.dest === join(ws, 'later.txt'))).toBe(false);
  });

  it.each(['.git', '.vscode', '.claude'])(
    'SBX-06 a profile deny of %s is not undone by the mandatory write-deny protection',
    (dir) => {
      touch(join(ws, '.git/config'), '[core]\n');
      mkdirSync(join(ws, '.git/hooks'));
      touch(join(ws, '.vscode/settings.json'));
      touch(join(ws, '.claude/settings.json'));
      const { ops } = plan({ deny: [join(ws, dir)] });
      for (const path of [join(ws, dir), join(ws, dir, 'config'), join(ws, dir, 'settings.json')]) {
        const seen = visibleAt(ops, path);
        expect(isInside(seen, ws), `${path} shows host ${seen} despite deny`).toBe(false);
      }
    },
  );

  it('SBX-06 a profile deny of .bashrc is not undone by the mandatory write-deny protection', () => {
    touch(join(ws, '.bashrc'), 'export TOKEN=secret\n');
    const { ops } = plan({ deny: [join(ws, '.bashrc')] });
    expect(visibleAt(ops, join(ws, '.bashrc'))).toBe(ctx.emptyFile);
  });
});

describe('planMounts: mandatory write-deny list (SBX-06, SBX-20)', () => {
  it('SBX-06 lists the git, shell, editor and agent start-up files', () => {
    for (const entry of [
      '.git/hooks/',
      '.git/config',
      '.bashrc',
      '.profile',
      '.zshrc',
      '.envrc',
      '.mcp.json',
      '.vscode/',
      '.claude/settings.json',
    ]) {
      expect(MANDATORY_WRITE_DENY).toContain(entry);
    }
  });

  it('SBX-20 lists hook managers and the IDE and devcontainer configs that run commands on open', () => {
    for (const entry of [
      '.husky/',
      '.pre-commit-config.yaml',
      'lefthook.yml',
      '.lefthook.yml',
      '.lefthook/',
      '.devcontainer/',
      '.devcontainer.json',
      '.idea/',
      '.zed/',
      '.helix/',
      '.cursor/',
    ]) {
      expect(MANDATORY_WRITE_DENY).toContain(entry);
    }
  });

  it('SBX-06 existing entries are read-only, bound after the workspace', () => {
    touch(join(ws, '.git/config'));
    mkdirSync(join(ws, '.git/hooks'));
    touch(join(ws, '.git/hooks/pre-commit'));
    touch(join(ws, '.bashrc'));
    touch(join(ws, '.mcp.json'));
    touch(join(ws, '.vscode/tasks.json'));
    touch(join(ws, '.claude/settings.json'));
    const { ops, baseline } = plan();
    const wsBind = indexOfOp(ops, (op) => op.op === 'bind' && op.dest === ws);
    for (const path of [
      '.git/config',
      '.git/hooks/pre-commit',
      '.bashrc',
      '.mcp.json',
      '.vscode/tasks.json',
      '.claude/settings.json',
    ].map((p) => join(ws, p))) {
      const found = coveringOp(ops, path);
      expect(found?.index, path).toBeGreaterThan(wsBind);
      expect(visibleAt(ops, path), path).toBe(path);
      expect(writableAt(ops, path), path).toBe(false);
    }
    expect(baseline.existing).toEqual(expect.arrayContaining([join(ws, '.git/config'), join(ws, '.bashrc')]));
    // The rest of .git stays usable.
    expect(writableAt(ops, join(ws, '.git/objects/ab/cdef'))).toBe(true);
  });

  it('SBX-06 .git is pinned with a self-bind so it cannot be renamed aside and replaced', () => {
    touch(join(ws, '.git/config'));
    mkdirSync(join(ws, '.git/hooks'));
    const { ops } = plan();
    expect(ops).toContainEqual({ op: 'bind', src: join(ws, '.git'), dest: join(ws, '.git') });
    expect(ops).toContainEqual({ op: 'ro-bind', src: join(ws, '.git/hooks'), dest: join(ws, '.git/hooks') });
  });

  it("SBX-06 entries that don't exist are not mounted (no placeholder on the host); the baseline records them", () => {
    const { ops, baseline } = plan();
    for (const entry of MANDATORY_WRITE_DENY) {
      const path = join(ws, entry.replace(/\/$/, ''));
      expect(
        ops.some((op) => 'dest' in op && isInside(op.dest, path)),
        entry,
      ).toBe(false);
      expect(writableAt(ops, path), entry).toBe(true);
      expect(
        baseline.absent.map((a) => a.path),
        entry,
      ).toContain(path);
    }
    expect(baseline.absent.find((a) => a.path === join(ws, '.bashrc'))?.policy).toBe('code');
    expect(baseline.absent.find((a) => a.path === join(ws, '.mcp.json'))?.policy).toBe('mcp-servers');
    expect(baseline.absent.find((a) => a.path === join(ws, '.claude/settings.json'))?.policy).toBe('agent-settings');
    expect(baseline.absent.find((a) => a.path === join(ws, '.git/config'))?.policy).toBe('git');
    expect(baseline.existing).toEqual([]);
    expect(baseline.roots).toEqual([ws]);
    expect(readdirSync(ws), 'planning creates nothing').toEqual([]);
  });

  it('SBX-06 a missing entry inside an existing directory leaves the directory usable and pinned', () => {
    mkdirSync(join(ws, '.git'));
    mkdirSync(join(ws, '.claude'));
    touch(join(ws, '.claude/settings.json'));
    const { ops, baseline } = plan();
    expect(writableAt(ops, join(ws, '.git/config'))).toBe(true);
    expect(writableAt(ops, join(ws, '.claude/commands/x.md'))).toBe(true);
    expect(writableAt(ops, join(ws, '.claude/settings.json'))).toBe(false);
    expect(ops).toContainEqual({ op: 'bind', src: join(ws, '.claude'), dest: join(ws, '.claude') });
    expect(baseline.absent.map((a) => a.path)).toEqual(
      expect.arrayContaining([
        join(ws, '.git/hooks'),
        join(ws, '.git/commondir'),
        join(ws, '.claude/settings.local.json'),
      ]),
    );
    expect(baseline.gitDirs).toEqual([join(ws, '.git')]);
  });

  it('SBX-06 .git as a file that is not a worktree of a repository is kept read-only, nothing else bound', () => {
    touch(join(ws, '.git'), 'gitdir: /elsewhere\n');
    const { ops, writableRoots } = plan();
    expect(visibleAt(ops, join(ws, '.git'))).toBe(join(ws, '.git'));
    expect(writableAt(ops, join(ws, '.git'))).toBe(false);
    expect(writableRoots).toEqual([ws]);
  });

  it('SBX-06 applies to every writable root, not only the workspace', () => {
    const extra = join(root, 'other-repo');
    mkdirSync(extra);
    touch(join(extra, '.git/config'));
    touch(join(extra, '.bashrc'));
    const { ops, baseline } = plan({ writable: [extra] });
    expect(writableAt(ops, join(extra, '.git/config'))).toBe(false);
    expect(writableAt(ops, join(extra, '.bashrc'))).toBe(false);
    expect(baseline.absent.map((a) => a.path)).toContain(join(extra, '.zshrc'));
    expect(baseline.roots).toEqual([ws, extra]);
  });

  it('read-only roots are not protected entry by entry (they are read-only already)', () => {
    const extra = join(root, 'ro-repo');
    mkdirSync(extra);
    const { baseline } = plan({ workspace: null, readOnly: [extra] });
    expect(baseline.absent).toEqual([]);
    expect(baseline.roots).toEqual([]);
  });

  it('SBX-06 git submodule hooks and config under .git/modules are protected too, nested ones included', () => {
    touch(join(ws, '.git/config'));
    touch(join(ws, '.git/modules/lib/config'));
    mkdirSync(join(ws, '.git/modules/lib/hooks'));
    touch(join(ws, '.git/modules/lib/hooks/pre-commit'));
    touch(join(ws, '.git/modules/lib/modules/inner/config'));
    const { ops, baseline } = plan();
    for (const path of [
      '.git/modules/lib/config',
      '.git/modules/lib/hooks/pre-commit',
      '.git/modules/lib/modules/inner/config',
    ]) {
      expect(writableAt(ops, join(ws, path)), path).toBe(false);
    }
    expect(baseline.absent.map((a) => a.path)).toContain(join(ws, '.git/modules/lib/modules/inner/hooks'));
    expect(writableAt(ops, join(ws, '.git/modules/lib/objects/x'))).toBe(true);
  });

  it("SBX-06 each linked worktree's commondir, gitdir and config.worktree are read-only; the worktree's own files stay writable", () => {
    touch(join(ws, '.git/config'));
    touch(join(ws, '.git/worktrees/wt/commondir'), '../..\n');
    touch(join(ws, '.git/worktrees/wt/gitdir'), '/elsewhere/wt/.git\n');
    const { ops, baseline } = plan();
    expect(writableAt(ops, join(ws, '.git/worktrees/wt/commondir'))).toBe(false);
    expect(writableAt(ops, join(ws, '.git/worktrees/wt/gitdir'))).toBe(false);
    expect(writableAt(ops, join(ws, '.git/worktrees/wt/HEAD'))).toBe(true);
    // git worktree add inside the sandbox can create a new one; the post-run check judges it.
    expect(writableAt(ops, join(ws, '.git/worktrees/new/commondir'))).toBe(true);
    expect(baseline.absent.map((a) => a.path)).toEqual(
      expect.arrayContaining([
        join(ws, '.git/commondir'),
        join(ws, '.git/config.worktree'),
        join(ws, '.git/worktrees/wt/config.worktree'),
      ]),
    );
  });

  it("SBX-06 the repository's core.hooksPath, includes and scripts its config runs are write-protected", () => {
    touch(
      join(ws, '.git/config'),
      '[core]\n\thooksPath = .githooks\n\tfsmonitor = tools/fsmonitor.sh\n[include]\n\tpath = ../shared.gitconfig\n',
    );
    touch(join(ws, '.githooks/pre-commit'));
    touch(join(ws, 'tools/fsmonitor.sh'));
    touch(join(ws, 'tools/other.sh'));
    touch(join(ws, 'shared.gitconfig'), '[core]\n\tbare = false\n');
    const { ops } = plan();
    for (const path of ['.githooks/pre-commit', '.githooks/post-commit', 'tools/fsmonitor.sh', 'shared.gitconfig']) {
      expect(writableAt(ops, join(ws, path)), path).toBe(false);
    }
    expect(writableAt(ops, join(ws, 'tools/other.sh'))).toBe(true);
  });

  it('SBX-20 husky 9 (core.hooksPath=.husky/_): the scripts the hooks run, .husky/<hook>, are read-only', () => {
    touch(join(ws, '.git/config'), '[core]\n\thooksPath = .husky/_\n');
    touch(join(ws, '.husky/_/pre-commit'), '#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n');
    touch(join(ws, '.husky/pre-commit'), 'npm test\n');
    const { ops } = plan();
    expect(writableAt(ops, join(ws, '.husky/pre-commit'))).toBe(false);
    expect(writableAt(ops, join(ws, '.husky/post-merge'))).toBe(false);
    expect(writableAt(ops, join(ws, '.husky/_/h'))).toBe(false);
  });

  it('SBX-20 scripts named by hooks, agent settings, MCP configs and hook managers are read-only; what they only read is not', () => {
    touch(join(ws, '.git/config'));
    touch(join(ws, '.git/hooks/pre-commit'), '#!/bin/sh\n./scripts/verify.sh && prettier --check src/app.ts\n');
    touch(join(ws, 'scripts/verify.sh'));
    touch(join(ws, 'src/app.ts'));
    touch(
      join(ws, '.claude/settings.json'),
      JSON.stringify({
        hooks: {
          PostToolUse: [
            { matcher: 'Edit', hooks: [{ type: 'command', command: '"$CLAUDE_PROJECT_DIR"/.claude/hooks/fmt.sh' }] },
          ],
        },
        statusLine: { type: 'command', command: 'bash tools/status.sh' },
      }),
    );
    touch(join(ws, '.claude/hooks/fmt.sh'));
    touch(join(ws, 'tools/status.sh'));
    touch(
      join(ws, '.mcp.json'),
      JSON.stringify({ mcpServers: { local: { command: 'node', args: ['tools/mcp/server.js', '--port', '1'] } } }),
    );
    touch(join(ws, 'tools/mcp/server.js'));
    touch(
      join(ws, '.pre-commit-config.yaml'),
      'repos:\n  - repo: local\n    hooks:\n      - id: lint\n        entry: ./tools/lint.py\n        language: script\n',
    );
    touch(join(ws, 'tools/lint.py'));
    touch(
      join(ws, 'lefthook.yml'),
      'pre-commit:\n  commands:\n    check:\n      run: sh tools/check.sh {staged_files}\n',
    );
    touch(join(ws, 'tools/check.sh'));
    const { ops, baseline } = plan();
    for (const path of [
      'scripts/verify.sh',
      '.claude/hooks/fmt.sh',
      'tools/status.sh',
      'tools/mcp/server.js',
      'tools/lint.py',
      'tools/check.sh',
    ]) {
      expect(writableAt(ops, join(ws, path)), path).toBe(false);
    }
    expect(writableAt(ops, join(ws, 'src/app.ts')), 'an argument a command only reads').toBe(true);
    expect(writableAt(ops, join(ws, 'tools/other.js'))).toBe(true);
    expect(baseline.existing).toContain(join(ws, 'tools/lint.py'));
  });

  it('SBX-20 a script a protected config names that does not exist yet is judged after the run', () => {
    touch(
      join(ws, '.claude/settings.json'),
      JSON.stringify({ hooks: { Stop: [{ hooks: [{ type: 'command', command: '.claude/hooks/stop.sh' }] }] } }),
    );
    const { ops, baseline } = plan();
    expect(writableAt(ops, join(ws, '.claude/hooks/stop.sh'))).toBe(true);
    expect(baseline.absent).toContainEqual({ path: join(ws, '.claude/hooks/stop.sh'), policy: 'code' });
  });

  it('SBX-06 an unreadable repository config refuses the run (warden cannot tell what to protect)', () => {
    touch(join(ws, '.git/config'), '[core\n');
    expect(planError({}).code).toBe('WORKSPACE_INVALID');
  });

  it.each([
    ['.git/hooks', (w: string) => (mkdirSync(join(w, '.git')), symlinkSync('/tmp', join(w, '.git/hooks')))],
    ['.bashrc', (w: string) => symlinkSync('/etc/bash.bashrc', join(w, '.bashrc'))],
    ['.envrc (dangling)', (w: string) => symlinkSync(join(w, 'missing'), join(w, '.envrc'))],
    ['.vscode', (w: string) => (mkdirSync(join(w, 'vs')), symlinkSync(join(w, 'vs'), join(w, '.vscode')))],
  ])('SBX-06 a symlink at %s is refused (a mount cannot pin a symlink)', (what, setup) => {
    setup(ws);
    const error = planError({});
    expect(error.code).toBe('WORKSPACE_INVALID');
    expect(error.message).toMatch(/is a symlink/);
    expect(error.hint).toMatch(/replace the symlink/);
    expect(what).toBeTruthy();
  });
});

describe('planMounts: git checkouts whose .git is a file (linked worktrees, submodules)', () => {
  /** A main repository at `main` with a linked worktree at `wt`, laid out as `git worktree add` does. */
  function worktree(main: string, wt: string): void {
    touch(join(main, '.git/HEAD'), 'ref: refs/heads/main\n');
    mkdirSync(join(main, '.git/objects'), { recursive: true });
    mkdirSync(join(main, '.git/refs/heads'), { recursive: true });
    touch(join(main, '.git/config'), '[core]\n\tbare = false\n');
    mkdirSync(join(main, '.git/hooks'));
    touch(join(main, '.git/worktrees/wt/HEAD'), 'ref: refs/heads/feature\n');
    touch(join(main, '.git/worktrees/wt/commondir'), '../..\n');
    touch(join(main, '.git/worktrees/wt/gitdir'), `${join(wt, '.git')}\n`);
    touch(join(wt, '.git'), `gitdir: ${join(main, '.git/worktrees/wt')}\n`);
  }

  it('binds the common dir writable (objects, refs, its worktree dir) and keeps config, hooks and redirections read-only', () => {
    const main = join(root, 'main');
    worktree(main, ws);
    touch(join(main, 'README.md'));
    const { ops, writableRoots, baseline } = plan();
    const common = join(main, '.git');
    expect(writableRoots).toEqual([ws, common]);
    expect(baseline.roots).toEqual([ws, common]);
    expect(baseline.gitDirs).toEqual([common]);
    for (const path of ['objects/ab/cd', 'refs/heads/x', 'worktrees/wt/HEAD', 'worktrees/wt/index', 'packed-refs'])
      expect(writableAt(ops, join(common, path)), path).toBe(true);
    for (const path of ['config', 'hooks/pre-commit', 'worktrees/wt/commondir', 'worktrees/wt/gitdir'])
      expect(writableAt(ops, join(common, path)), path).toBe(false);
    expect(writableAt(ops, join(ws, '.git'))).toBe(false);
    // The main checkout's own files are not part of it.
    expect(visibleAt(ops, join(main, 'README.md'))).not.toBe(join(main, 'README.md'));
  });

  it('does not follow a gitfile whose worktree does not point back at this checkout', () => {
    const main = join(root, 'main');
    worktree(main, join(root, 'other'));
    touch(join(ws, '.git'), `gitdir: ${join(main, '.git/worktrees/wt')}\n`);
    const { writableRoots } = plan();
    expect(writableRoots).toEqual([ws]);
  });

  it("binds a submodule's git dir when its core.worktree is this checkout", () => {
    const sup = join(root, 'super');
    const gitDir = join(sup, '.git/modules/lib');
    touch(join(gitDir, 'HEAD'), 'ref: refs/heads/main\n');
    mkdirSync(join(gitDir, 'objects'), { recursive: true });
    mkdirSync(join(gitDir, 'refs'), { recursive: true });
    touch(join(gitDir, 'config'), `[core]\n\tworktree = ${relative(gitDir, ws)}\n`);
    touch(join(ws, '.git'), `gitdir: ${relative(ws, gitDir)}\n`);
    const { ops, writableRoots } = plan();
    expect(writableRoots).toEqual([ws, gitDir]);
    expect(writableAt(ops, join(gitDir, 'objects/x'))).toBe(true);
    expect(writableAt(ops, join(gitDir, 'config'))).toBe(false);
    expect(writableAt(ops, join(gitDir, 'hooks/post-checkout'))).toBe(true);
  });
});

describe('planMounts: never-visible paths (SBX-04)', () => {
  it("SBX-04 warden's state dir inside the workspace is hidden, after everything else", () => {
    const state = join(ws, '.warden-state');
    touch(join(state, 'audit.db'));
    const { ops } = plan({ neverVisible: [state] });
    expect(visibleAt(ops, join(state, 'audit.db'))).toBe(join(ctx.emptyDir, 'audit.db'));
    const hide = indexOfOp(ops, (op) => op.dest === state);
    expect(hide).toBe(ops.length - 2);
  });

  it('SBX-04 a never-visible file is covered by the empty file', () => {
    const key = join(ws, 'head.key');
    touch(key);
    expect(visibleAt(plan({ neverVisible: [key] }).ops, key)).toBe(ctx.emptyFile);
  });

  it('SBX-04 the state dir is hidden when it is the workspace itself or inside a read-only path', () => {
    const ro = join(root, 'ro');
    touch(join(ro, 'state/audit.db'));
    expect(visibleAt(plan({ neverVisible: [ws] }).ops, join(ws, 'x'))).toBe(join(ctx.emptyDir, 'x'));
    expect(visibleAt(plan({ readOnly: [ro], neverVisible: [join(ro, 'state')] }).ops, join(ro, 'state/audit.db'))).toBe(
      join(ctx.emptyDir, 'audit.db'),
    );
  });

  it('SBX-04 never-visible paths outside every bound root need no mount', () => {
    const elsewhere = join(root, 'state');
    mkdirSync(elsewhere);
    expect(plan({ neverVisible: [elsewhere] }).ops.some((op) => op.dest === elsewhere)).toBe(false);
  });

  it('SBX-04 binding a directory inside the state dir does not expose it', () => {
    const state = join(root, 'state');
    touch(join(state, 'keys/audit-head.key'), 'secret');
    const keys = join(state, 'keys');
    let ops: readonly MountOp[];
    try {
      ops = plan({ readOnly: [keys], neverVisible: [state] }).ops;
    } catch (error) {
      // Refusing the profile is a fine answer too.
      expect(isWardenError(error)).toBe(true);
      return;
    }
    expect(isInside(visibleAt(ops, join(keys, 'audit-head.key')), state)).toBe(false);
  });
});

describe('planMounts: a persistent home (SBX-04)', () => {
  it('the home is bound read-write at /home/agent instead of the tmpfs, and not at its own path', () => {
    const state = join(root, 'state');
    const home = join(state, 'homes', 'coding');
    touch(join(home, '.claude.json'), '{}');
    touch(join(state, 'audit.key'), 'secret');
    const { ops, writableRoots } = plan({ home, neverVisible: [state] });
    expect(visibleAt(ops, join(SANDBOX_HOME, '.claude.json'))).toBe(join(home, '.claude.json'));
    expect(writableAt(ops, join(SANDBOX_HOME, 'x'))).toBe(true);
    expect(ops.some((op) => op.op === 'tmpfs' && op.dest === SANDBOX_HOME)).toBe(false);
    // Nothing shows the state dir, the home's own path or a sibling at their host paths.
    expect(ops.some((op) => 'dest' in op && isInside(op.dest, state))).toBe(false);
    expect(isInside(visibleAt(ops, join(state, 'audit.key')), state)).toBe(false);
    // The home is not a writable root: the post-run check does not walk it.
    expect(writableRoots).toEqual([ws]);
  });

  it('SBX-04 a home that contains a never-visible path is refused (it would be shown under /home/agent)', () => {
    const state = join(root, 'state');
    mkdirSync(join(state, 'homes', 'coding'), { recursive: true });
    for (const home of [state, root]) {
      const error = planError({ home, neverVisible: [state] });
      expect(error.code).toBe('PATH_POLICY');
      expect(error.message).toMatch(/contains .*must never see/);
    }
    const runDir = join(root, 'home-with-run', 'run_X');
    mkdirSync(runDir, { recursive: true });
    expect(planError({ home: join(root, 'home-with-run'), neverVisible: [runDir] }).code).toBe('PATH_POLICY');
  });

  it('without a home, $HOME is a fresh tmpfs (SBX-17)', () => {
    expect(visibleAt(plan().ops, join(SANDBOX_HOME, 'x'))).toBe('tmpfs');
  });
});

describe('isInside', () => {
  it.each([
    ['/a', '/a', true],
    ['/a/b', '/a', true],
    ['/a/b/c', '/a', true],
    ['/a', '/', true],
    ['/', '/', true],
    ['/ab', '/a', false],
    ['/a', '/a/b', false],
    ['/', '/a', false],
    ['/b', '/a', false],
    ['/a/../b', '/a', false],
  ])('isInside(%s, %s) is %s', (path, rootDir, expected) => {
    expect(isInside(path, rootDir)).toBe(expected);
  });

  it("a child whose name starts with '..' is inside ('/ws/..data' is under '/ws')", () => {
    expect(isInside('/ws/..data', '/ws')).toBe(true);
    expect(isInside('/ws/...', '/ws')).toBe(true);
  });
});

describe('mountArgs', () => {
  it('turns each op into its bwrap arguments, in order', () => {
    const ops: MountOp[] = [
      { op: 'ro-bind', src: '/usr', dest: '/usr' },
      { op: 'bind', src: '/w', dest: '/w' },
      { op: 'ro-bind-try', src: '/x', dest: '/y' },
      { op: 'symlink', target: 'usr/bin', dest: '/bin' },
      { op: 'tmpfs', dest: '/tmp', sizeBytes: 1024 },
      { op: 'tmpfs', dest: '/run' },
      { op: 'proc', dest: '/proc' },
      { op: 'dev', dest: '/dev' },
      { op: 'remount-ro', dest: '/' },
    ];
    expect(mountArgs(ops)).toEqual([
      '--ro-bind',
      '/usr',
      '/usr',
      '--bind',
      '/w',
      '/w',
      '--ro-bind-try',
      '/x',
      '/y',
      '--symlink',
      'usr/bin',
      '/bin',
      '--size',
      '1024',
      '--tmpfs',
      '/tmp',
      '--tmpfs',
      '/run',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--remount-ro',
      '/',
    ]);
  });

  it('a whole plan translates without loss (three args per bind)', () => {
    const { ops } = plan();
    const args = mountArgs(ops);
    expect(args.filter((a) => a === '--bind' || a === '--ro-bind').length).toBe(
      ops.filter((op) => op.op === 'bind' || op.op === 'ro-bind').length,
    );
    expect(args[args.length - 2]).toBe('--remount-ro');
  });
});
