/**
 * Drives the real, built `warden` CLI the way a user does, either as root or as an ordinary
 * user (`warden-tester`, created by `scripts/setup.sh --test-user`), and gives each test a fresh
 * workspace the sandbox may write to.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

/**
 * Who runs warden: root, the ordinary user `warden-tester` (cgroups delegated to it), or the
 * ordinary user `warden-nocg` (no cgroup delegation: limits fall back to rlimits). The suites run
 * in `availableModes()`; tests of the no-delegation path name 'nocg' explicitly.
 */
export type Mode = 'root' | 'user' | 'nocg';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const TEST_USER = 'warden-tester';
/** An ordinary user without cgroup delegation (scripts/setup.sh --test-user creates it). */
export const NOCG_USER = 'warden-nocg';
export const SANDBOX_USER = 'warden-sandbox';

/** The ordinary user a mode runs warden as (null: root). */
export function modeUser(mode: Mode): string | null {
  return mode === 'root' ? null : mode === 'user' ? TEST_USER : NOCG_USER;
}

/** uid/gid of a local user, or null. */
export function userIds(name: string): { uid: number; gid: number; home: string } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
  }
  return null;
}

/** The modes this machine can run: root always (the suite runs as root), 'user' if the test user exists. */
export function availableModes(): Mode[] {
  return userIds(TEST_USER) === null ? ['root'] : ['root', 'user'];
}

/** Where the CLI entry lives for a mode (the test user may not be able to read the checkout). */
export function wardenBin(mode: Mode): string {
  if (mode !== 'root') {
    const copy = process.env.WARDEN_TEST_INSTALL;
    if (copy !== undefined && copy !== '') return join(copy, 'bin', 'warden.cjs');
  }
  return join(REPO, 'bin', 'warden.cjs');
}

export interface WardenResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The run summary (from --json FILE), when the command was `run` and warden wrote one. */
  readonly summary: RunSummaryJson | null;
}

export interface RunSummaryJson {
  readonly run_id: string;
  readonly reason: string;
  readonly exit_code: number;
  readonly command_exit_code: number | null;
  readonly signal: string | null;
  readonly duration_ms: number;
  readonly setup_ms: number | null;
  readonly egress: {
    readonly allowed: number;
    readonly denied: number;
    readonly denied_targets: readonly {
      host: string;
      port: number;
      reason: string;
      count: number;
      blocked?: { address: string; range: string; allow_entry: string };
    }[];
  };
  readonly limits_hit: readonly string[];
  readonly error: string | null;
}

export interface WardenOptions {
  readonly cwd: string;
  /** Extra environment for warden itself (not the sandbox: nothing enters it unless passed). */
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Called with the child right after spawn (e.g. to kill warden mid-run). */
  readonly onSpawn?: (pid: number) => void;
  /** Called with each piece of warden's stderr as it arrives (e.g. to read a listening address). */
  readonly onStderr?: (text: string) => void;
  /**
   * A privileged command to start warden behind (run as root; it must end by exec'ing the rest
   * of its arguments), e.g. one that enters a private mount namespace first. In user mode the
   * privileges are dropped to the test user after the prefix, with setpriv.
   */
  readonly prefix?: readonly string[];
  /**
   * warden's own descriptors 0-2: an open file descriptor to hand over as is (e.g. a file opened
   * for appending, as `>> host.log` does), or 'pipe' (the default: captured, `input` written).
   */
  readonly stdio?: readonly [number | 'pipe', number | 'pipe', number | 'pipe'];
}

/** The state dir a mode's warden uses in tests (kept apart from a real installation's). */
export function testStateDir(mode: Mode): string {
  const name = modeUser(mode);
  return name === null ? '/var/lib/warden-test' : join(userIds(name)?.home ?? '/tmp', '.local', 'state', 'warden-test');
}

/**
 * Runs `warden ARGS...`. For `run`, `--json FILE` is added so the summary can be checked.
 * Resolves when warden exits (never rejects on a non-zero exit).
 */
export function warden(mode: Mode, args: readonly string[], options: WardenOptions): Promise<WardenResult> {
  const name = modeUser(mode);
  const user = name === null ? null : userIds(name);
  if (name !== null && user === null) throw new Error(`test user ${name} missing: run scripts/setup.sh --test-user`);
  let summaryFile: string | null = null;
  let finalArgs = [...args];
  if (args[0] === 'run') {
    const dir = mkdtempSync('/tmp/warden-summary-');
    chmodSync(dir, 0o777);
    summaryFile = join(dir, 'summary.json');
    finalArgs = ['run', '--json', summaryFile, ...args.slice(1)];
  }
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: user?.home ?? '/root',
    LANG: 'C.UTF-8',
    WARDEN_STATE_DIR: testStateDir(mode),
    ...(options.env ?? {}),
  };
  const prefix = options.prefix ?? [];
  const drop =
    prefix.length > 0 && user !== null
      ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--']
      : [];
  const argv = [...prefix, ...drop, process.execPath, wardenBin(mode), ...finalArgs];
  return new Promise((resolvePromise) => {
    const child: ChildProcess = spawn(argv[0] ?? '', argv.slice(1), {
      cwd: options.cwd,
      env,
      stdio: [...(options.stdio ?? ['pipe', 'pipe', 'pipe'])],
      // Without a prefix the child itself runs as the test user; a prefix needs root and drops later.
      ...(user === null || prefix.length > 0 ? {} : { uid: user.uid, gid: user.gid }),
    });
    options.onSpawn?.(child.pid ?? -1);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      options.onStderr?.(d);
    });
    child.stdin?.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 50_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let summary: RunSummaryJson | null = null;
      if (summaryFile !== null && existsSync(summaryFile))
        summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummaryJson;
      if (summaryFile !== null) rmSync(join(summaryFile, '..'), { recursive: true, force: true });
      resolvePromise({ code, signal, stdout, stderr, summary });
    });
  });
}

/** Expects warden (and so the command) to have exited with `code`; shows both streams when not. */
export function expectRan(run: WardenResult, code = 0): void {
  expect(run.code, `exit ${String(run.code)}; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(code);
}

/** `warden run [opts] -- sh -c SCRIPT` in `workspace`. */
export function runShell(
  mode: Mode,
  workspace: string,
  script: string,
  wardenArgs: readonly string[] = [],
  options: Partial<WardenOptions> = {},
): Promise<WardenResult> {
  return warden(mode, ['run', ...wardenArgs, '--', '/bin/sh', '-c', script], { cwd: workspace, ...options });
}

/**
 * Who owns the workspaces `makeWorkspace` makes: 'sandbox' (the default) = the sandbox user as root,
 * the test user as a user; 'root' = root in root mode, so the whole battery can be run through
 * idmapped workspaces with WARDEN_TEST_WORKSPACE_OWNER=root (see src/sandbox/idmap.ts).
 */
function defaultOwner(mode: Mode): { uid: number; gid: number } {
  const name =
    mode === 'root' && process.env.WARDEN_TEST_WORKSPACE_OWNER === 'root' ? 'root' : (modeUser(mode) ?? SANDBOX_USER);
  const owner = userIds(name);
  if (owner === null) throw new Error(`user ${name} missing: run scripts/setup.sh --test-user`);
  return owner;
}

/**
 * A fresh workspace the mode's sandbox can write to: owned by the sandbox user (root mode) or
 * the test user (user mode), under a 0755 temp dir. Remove it with `removeWorkspace`.
 */
export function makeWorkspace(mode: Mode, name = 'ws'): string {
  const owner = defaultOwner(mode);
  return makeOwnedWorkspace(owner, name);
}

/**
 * A fresh workspace owned by `owner` (e.g. root, or a third user), in a new 0755 directory under
 * `under` (default /tmp; /root gives one the sandbox user could not even reach without warden's
 * idmapped mount). Remove it with `removeWorkspace`.
 */
export function makeOwnedWorkspace(owner: { uid: number; gid: number }, name = 'ws', under = '/tmp'): string {
  const parent = mkdtempSync(join(under, 'warden-test-'));
  chmodSync(parent, 0o755);
  const workspace = join(parent, name);
  mkdirSync(workspace);
  chownSync(workspace, owner.uid, owner.gid);
  return workspace;
}

/** Chowns a path created by the (root) test to the workspace owner of `mode`. */
export function giveToSandbox(mode: Mode, path: string): void {
  const owner = defaultOwner(mode);
  spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, path]);
}

export function removeWorkspace(workspace: string): void {
  rmSync(join(workspace, '..'), { recursive: true, force: true });
}

/** Lines of the form `KEY=VALUE` printed by a probe, as a map. */
export function probeValues(stdout: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && /^[A-Z0-9_]+$/.test(line.slice(0, eq))) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return values;
}

/** One audit record as `warden audit show --json` prints it. */
export interface AuditEvent {
  readonly seq: number;
  readonly type: string;
  readonly run_id: string;
  readonly agent: { readonly name: string; readonly run_id: string };
  readonly data: Record<string, unknown>;
}

/** `warden audit show RUN --json` as `mode` (same state dir as the run, unless `env` names another). */
export async function auditEvents(
  mode: Mode,
  cwd: string,
  runId: string,
  env?: Readonly<Record<string, string>>,
): Promise<AuditEvent[]> {
  const result = await warden(mode, ['audit', 'show', runId, '--json'], { cwd, ...(env === undefined ? {} : { env }) });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as AuditEvent[];
}

/**
 * The events of the run recorded for `agent` (a standalone gateway is a run of its own). Tests give
 * each run a unique agent name: other suites write to the same state dir at the same time.
 */
export async function agentAuditEvents(mode: Mode, cwd: string, agent: string): Promise<AuditEvent[]> {
  const listed = await warden(mode, ['audit', 'ls', '--json', '--limit', '1000'], { cwd });
  expect(listed.code, listed.stderr).toBe(0);
  const run = (JSON.parse(listed.stdout) as { run_id: string; agent: string }[]).find((r) => r.agent === agent);
  if (run === undefined) throw new Error(`no run of agent ${agent} in the audit log`);
  return auditEvents(mode, cwd, run.run_id);
}

/** Whether the user a mode's sandboxes run as can read `path` (the checkout may be private). */
export function readableBySandbox(mode: Mode, ...paths: string[]): boolean {
  const user = modeUser(mode) ?? SANDBOX_USER;
  return (
    spawnSync('runuser', [
      '-u',
      user,
      '--',
      'test',
      ...paths.flatMap((p, i) => (i === 0 ? ['-r', p] : ['-a', '-r', p])),
    ]).status === 0
  );
}

/**
 * How an MCP client starts `warden gateway --stdio` as `mode` (root, or the test user through
 * runuser), for the SDK's StdioClientTransport. `env` adds variables to warden's own environment.
 */
export function gatewayStdioCommand(
  mode: Mode,
  options: {
    readonly workspace: string;
    readonly config: string;
    readonly agent: string;
    readonly env?: Readonly<Record<string, string>>;
  },
): { command: string; args: string[]; cwd: string; env: Record<string, string> } {
  const name = modeUser(mode);
  const user = name === null ? null : userIds(name);
  const args = [
    wardenBin(mode),
    '--config',
    options.config,
    'gateway',
    '--stdio',
    '--workspace',
    options.workspace,
    '--agent',
    options.agent,
  ];
  return {
    command: user === null ? process.execPath : 'runuser',
    args: name === null ? args : ['-u', name, '--', process.execPath, ...args],
    cwd: options.workspace,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: user?.home ?? '/root',
      WARDEN_STATE_DIR: testStateDir(mode),
      ...options.env,
    },
  };
}
