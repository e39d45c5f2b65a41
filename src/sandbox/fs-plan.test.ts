import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
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
    placeholderFile: join(lib, 'placeholder-file'),
    placeholderDir: join(lib, 'placeholder-dir'),
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

describe('planMounts: mandatory write-deny list (SBX-06)', () => {
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

  it('SBX-06 existing entries are read-only, bound after the workspace', () => {
    touch(join(ws, '.git/config'));
    mkdirSync(join(ws, '.git/hooks'));
    touch(join(ws, '.git/hooks/pre-commit'));
    touch(join(ws, '.bashrc'));
    touch(join(ws, '.mcp.json'));
    touch(join(ws, '.vscode/tasks.json'));
    touch(join(ws, '.claude/settings.json'));
    const { ops, placeholders } = plan();
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
    expect(placeholders).not.toContain(join(ws, '.git/config'));
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

  it("SBX-06 entries that don't exist yet get read-only placeholders at their first missing component", () => {
    const { ops, placeholders } = plan();
    expect(visibleAt(ops, join(ws, '.git'))).toBe(ctx.placeholderDir);
    expect(visibleAt(ops, join(ws, '.bashrc'))).toBe(ctx.placeholderFile);
    expect(visibleAt(ops, join(ws, '.vscode'))).toBe(ctx.placeholderDir);
    expect(visibleAt(ops, join(ws, '.claude'))).toBe(ctx.placeholderDir);
    expect(visibleAt(ops, join(ws, '.mcp.json'))).toBe(ctx.placeholderFile);
    for (const entry of MANDATORY_WRITE_DENY) {
      const path = join(ws, entry.replace(/\/$/, ''));
      expect(writableAt(ops, path), entry).toBe(false);
      expect(writableAt(ops, join(path, 'x')), `${entry}x`).toBe(false);
    }
    expect(new Set(placeholders).size).toBe(placeholders.length);
    expect(placeholders).toContain(join(ws, '.git'));
    expect(placeholders).toContain(join(ws, '.bashrc'));
    expect(placeholders).toContain(join(ws, '.claude'));
    expect(placeholders).not.toContain(join(ws, '.git/hooks'));
    for (const p of placeholders) expect(existsSync(p), 'planning creates nothing').toBe(false);
  });

  it('SBX-06 a missing entry inside an existing directory gets its own placeholder', () => {
    mkdirSync(join(ws, '.git'));
    mkdirSync(join(ws, '.claude'));
    const { ops, placeholders } = plan();
    expect(visibleAt(ops, join(ws, '.git/hooks'))).toBe(ctx.placeholderDir);
    expect(visibleAt(ops, join(ws, '.git/config'))).toBe(ctx.placeholderFile);
    expect(visibleAt(ops, join(ws, '.claude/settings.json'))).toBe(ctx.placeholderFile);
    expect(visibleAt(ops, join(ws, '.claude/settings.local.json'))).toBe(ctx.placeholderFile);
    expect(writableAt(ops, join(ws, '.claude/other.json'))).toBe(true);
    expect(placeholders).toEqual(
      expect.arrayContaining([join(ws, '.git/hooks'), join(ws, '.git/config'), join(ws, '.claude/settings.json')]),
    );
  });

  it('SBX-06 .git as a file (worktree pointer) is kept read-only', () => {
    touch(join(ws, '.git'), 'gitdir: /elsewhere\n');
    const { ops } = plan();
    expect(visibleAt(ops, join(ws, '.git'))).toBe(join(ws, '.git'));
    expect(writableAt(ops, join(ws, '.git'))).toBe(false);
  });

  it('SBX-06 applies to every writable root, not only the workspace', () => {
    const extra = join(root, 'other-repo');
    mkdirSync(extra);
    touch(join(extra, '.git/config'));
    const { ops, placeholders } = plan({ writable: [extra] });
    expect(writableAt(ops, join(extra, '.git/config'))).toBe(false);
    expect(writableAt(ops, join(extra, '.git/hooks/post-checkout'))).toBe(false);
    expect(placeholders).toContain(join(extra, '.bashrc'));
  });

  it('read-only roots need no placeholders (they are read-only already)', () => {
    const extra = join(root, 'ro-repo');
    mkdirSync(extra);
    const { placeholders } = plan({ workspace: null, readOnly: [extra] });
    expect(placeholders).toEqual([]);
  });

  it('SBX-06 git submodule hooks and config under .git/modules are protected too, nested ones included', () => {
    touch(join(ws, '.git/config'));
    touch(join(ws, '.git/modules/lib/config'));
    mkdirSync(join(ws, '.git/modules/lib/hooks'));
    touch(join(ws, '.git/modules/lib/modules/inner/config'));
    const { ops } = plan();
    for (const path of [
      '.git/modules/lib/config',
      '.git/modules/lib/hooks/pre-commit',
      '.git/modules/lib/modules/inner/config',
      '.git/modules/lib/modules/inner/hooks/post-merge',
    ]) {
      expect(writableAt(ops, join(ws, path)), path).toBe(false);
    }
    expect(writableAt(ops, join(ws, '.git/modules/lib/objects/x'))).toBe(true);
  });

  it('SBX-06 .git/commondir, config.worktree and worktrees/ are write-protected, existing or not', () => {
    touch(join(ws, '.git/config'));
    mkdirSync(join(ws, '.git/worktrees/wt'), { recursive: true });
    const { ops, placeholders } = plan();
    for (const path of [
      '.git/commondir',
      '.git/config.worktree',
      '.git/worktrees/wt/commondir',
      '.git/worktrees/new/config.worktree',
    ]) {
      expect(writableAt(ops, join(ws, path)), path).toBe(false);
    }
    expect(placeholders).toEqual(
      expect.arrayContaining([join(ws, '.git/commondir'), join(ws, '.git/config.worktree')]),
    );
  });

  it("SBX-06 the repository's core.hooksPath, includes and scripts its config runs are write-protected", () => {
    touch(
      join(ws, '.git/config'),
      '[core]\n\thooksPath = .husky\n\tfsmonitor = tools/fsmonitor.sh\n[include]\n\tpath = ../shared.gitconfig\n',
    );
    touch(join(ws, '.husky/pre-commit'));
    touch(join(ws, 'tools/fsmonitor.sh'));
    touch(join(ws, 'tools/other.sh'));
    touch(join(ws, 'shared.gitconfig'), '[core]\n\tbare = false\n');
    const { ops } = plan();
    for (const path of ['.husky/pre-commit', '.husky/post-commit', 'tools/fsmonitor.sh', 'shared.gitconfig']) {
      expect(writableAt(ops, join(ws, path)), path).toBe(false);
    }
    expect(writableAt(ops, join(ws, 'tools/other.sh'))).toBe(true);
  });

  it('SBX-06 an unreadable repository config refuses the run (warden cannot tell what to protect)', () => {
    touch(join(ws, '.git/config'), '[core\n');
    expect(planError({}).code).toBe('WORKSPACE_INVALID');
  });

  it.each([
    ['.git/hooks', (w: string) => (mkdirSync(join(w, '.git')), symlinkSync('/tmp', join(w, '.git/hooks')))],
    ['.git', (w: string) => symlinkSync(join(w, 'real-git'), join(w, '.git'))],
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
