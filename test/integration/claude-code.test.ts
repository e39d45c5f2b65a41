/**
 * A real terminal agent: Claude Code (`@anthropic-ai/claude-code`, a devDependency; its native
 * binary comes from the npm package for this platform) on a real pty inside `warden run`, in a git
 * repository, as root and as an ordinary user. It starts and draws its UI, Ctrl-C reaches it and
 * it reacts as it does outside warden ("Press Ctrl-C again to exit"), a second Ctrl-C makes it
 * exit by itself, warden reports its own exit code, and the terminal is back in cooked mode.
 *
 * No network: the run allows no domain, so its calls home are refused by the egress proxy (they
 * show in the summary). Onboarding is marked done in a HOME inside the workspace, so what it
 * draws is the folder-trust dialog of a fresh project (onboarding itself would stop at "Unable
 * to connect to Anthropic services").
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableModes, giveToSandbox, makeWorkspace, REPO, removeWorkspace, type Mode } from '../helpers/warden.js';
import { PtySession, wardenInPty, type PtyExit, type PtyRun } from '../helpers/pty.js';
import { hostPidsWith } from '../escape/escape-kit.js';

const CLAUDE_BINARY = join(REPO, 'node_modules', '@anthropic-ai', 'claude-code-linux-x64', 'claude');
const UI = /trust\s*this\s*folder/;
const AGAIN = /Press\s*Ctrl-C\s*again\s*to\s*exit/;

/** A git repository with one commit, Claude Code's binary and a HOME where onboarding is done. */
function claudeWorkspace(mode: Mode): { workspace: string; claude: string; home: string } {
  expect(existsSync(CLAUDE_BINARY), `${CLAUDE_BINARY} missing: npm ci (with optional dependencies)`).toBe(true);
  const workspace = makeWorkspace(mode, 'project');
  const git = (...args: string[]) => {
    // The workspace belongs to the sandbox side; this test (root) sets the repository up.
    const r = spawnSync('git', ['-c', `safe.directory=${workspace}`, '-C', workspace, ...args], {
      env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
  };
  git('init', '-q', '-b', 'main');
  writeFileSync(join(workspace, 'README.md'), '# a project\n');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'add', 'README.md');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'first');
  writeFileSync(join(workspace, '.git', 'info', 'exclude'), '.tools/\n.home/\n');
  // The sandbox sees the workspace (not node_modules): a hard link costs nothing, a copy 240 MB.
  mkdirSync(join(workspace, '.tools'));
  const claude = join(workspace, '.tools', 'claude');
  try {
    linkSync(CLAUDE_BINARY, claude);
  } catch {
    copyFileSync(CLAUDE_BINARY, claude);
  }
  const home = join(workspace, '.home');
  mkdirSync(home);
  writeFileSync(join(home, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, theme: 'dark' }));
  giveToSandbox(mode, join(workspace, '.git'));
  giveToSandbox(mode, home);
  giveToSandbox(mode, join(workspace, 'README.md'));
  return { workspace, claude, home };
}

/** The tty_nr field of /proc/PID/stat: the process's controlling terminal, 0 for none. */
function controllingTerminal(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4]);
}

/** Ctrl-C, "Press Ctrl-C again to exit", Ctrl-C: what a user does to leave Claude Code. */
async function doubleCtrlC(session: PtySession): Promise<void> {
  const before = session.output.length;
  session.write('\x03');
  await session.waitFor(AGAIN, 15_000, before);
  session.write('\x03');
}

describe.each(availableModes())('Claude Code on a pty in warden run, warden as %s', (mode: Mode) => {
  let workspace = '';
  const runs: PtyRun[] = [];
  afterEach(() => {
    for (const run of runs.splice(0)) run.session.close();
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it('starts and draws its UI, Ctrl-C reaches it, a second Ctrl-C makes it exit by itself; the terminal is restored', async () => {
    const made = claudeWorkspace(mode);
    workspace = made.workspace;

    // Outside warden first (as root, the same HOME contents): how it reacts and what it exits with.
    const outsideHome = join(workspace, '..', 'outside-home');
    mkdirSync(outsideHome);
    writeFileSync(join(outsideHome, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, theme: 'dark' }));
    const outside = new PtySession({
      argv: [made.claude],
      env: { PATH: '/usr/bin:/bin', HOME: outsideHome, TERM: 'xterm-256color', LANG: 'C.UTF-8' },
      cwd: workspace,
      rows: 40,
      cols: 120,
    });
    let outsideExit: PtyExit;
    try {
      await outside.waitFor(UI, 45_000);
      await doubleCtrlC(outside);
      outsideExit = await outside.waitExit(10_000);
    } finally {
      outside.close();
    }

    const run = wardenInPty(mode, ['-e', `HOME=${made.home}`, '--', made.claude], {
      cwd: workspace,
      rows: 40,
      cols: 120,
    });
    runs.push(run);
    await run.session.waitFor(UI, 45_000);
    expect(run.session.text).toContain(workspace);
    // It runs with a controlling terminal (the sandbox's pty), as in a terminal of its own: /dev/tty,
    // job control and its subprocesses' prompts work. Handed warden's terminal instead, it has none.
    const [pid] = hostPidsWith(made.claude).filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'claude');
    expect(pid, 'the claude process').toBeDefined();
    expect(controllingTerminal(pid ?? 0)).not.toBe(0);
    await doubleCtrlC(run.session);
    const { exit, summary } = await run.done;

    expect(outsideExit.signal).toBeNull();
    expect(exit.code, run.session.text.slice(-2000)).toBe(outsideExit.code);
    // It exited by itself: its own code, not warden's stop after the grace (130).
    expect(summary).toMatchObject({
      reason: 'exited',
      exit_code: outsideExit.code,
      command_exit_code: outsideExit.code,
    });
    // Its calls home went to the egress proxy and were refused there.
    expect(summary?.egress.denied_targets.map((t) => t.host)).toContain('api.anthropic.com');
    expect(await run.session.termios()).toEqual({ icanon: true, echo: true, isig: true, icrnl: true, opost: true });
  });
});
