/**
 * Git works inside `warden run` as it does outside (issue 9): real git, in a new repository, an
 * existing one and a linked worktree (`git worktree add`), with warden as root and as an ordinary
 * user. Afterwards the host's own git sees a clean, intact repository with nothing of warden's in
 * it (no placeholders to stage or commit).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAVE_GIT, hostGitOk, makeRepo } from '../helpers/git.js';
import {
  availableModes,
  expectRan,
  giveToSandbox,
  makeWorkspace,
  probeValues,
  removeWorkspace,
  runShell,
  type Mode,
} from '../helpers/warden.js';

/**
 * The everyday commands, each echoing NAME=ok or failing the script: status, add, commit, log,
 * diff, branch, checkout, stash. Ends on branch `main` (or `$1`) with everything committed.
 */
const EVERYDAY = String.raw`
set -e
g() { git -c user.email=agent@example.com -c user.name=agent "$@"; }
base=$(git rev-parse --abbrev-ref HEAD)
g status --short > /dev/null && echo STATUS=ok
echo "agent line" >> notes.txt
g add -A && echo ADD=ok
g commit -q -m "agent: notes" && echo COMMIT=ok
g log --oneline | grep -q "agent: notes" && echo LOG=ok
echo "more" >> notes.txt
g diff | grep -q "^+more" && echo DIFF=ok
g stash -q && g stash list | grep -q stash && echo STASH=ok
g stash pop -q && g commit -q -am "agent: more" && echo STASH_POP=ok
g branch agent-feature && g branch --list agent-feature | grep -q agent-feature && echo BRANCH=ok
g checkout -q agent-feature && echo change > feature.txt && g add feature.txt && g commit -q -m "agent: feature"
g checkout -q "$base" && test ! -e feature.txt && echo CHECKOUT=ok
mkdir -p .claude/commands && echo 'review' > .claude/commands/review.md && g add -A && g commit -q -m "agent: command" && echo CLAUDE_DIR=ok
`;
const STEPS = ['STATUS', 'ADD', 'COMMIT', 'LOG', 'DIFF', 'STASH', 'STASH_POP', 'BRANCH', 'CHECKOUT', 'CLAUDE_DIR'];

describe.skipIf(!HAVE_GIT).each(availableModes())('git inside the sandbox, warden as %s', (mode: Mode) => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  /** The host's view afterwards: clean, nothing of warden's, objects intact. */
  function expectIntact(dir: string, subjects: readonly string[]): void {
    expect(hostGitOk(mode, dir, ['status', '--porcelain', '--ignored']), 'git status on the host').toBe('');
    hostGitOk(mode, dir, ['fsck', '--no-progress']);
    const log = hostGitOk(mode, dir, ['log', '--all', '--format=%s']);
    for (const subject of subjects) expect(log).toContain(subject);
    expect(hostGitOk(mode, dir, ['ls-files'])).not.toMatch(/\.bashrc|\.mcp\.json|\.envrc|\.profile|warden/);
  }

  it('a new repository: git init, then every everyday command', async () => {
    const workspace = makeWorkspace(mode);
    cleanups.push(() => removeWorkspace(workspace));
    const run = await runShell(
      mode,
      workspace,
      `git init -q -b main . && echo INIT=ok && echo first > notes.txt && git -c user.email=a@example.com -c user.name=a commit -q --allow-empty -m "agent: init" && ${EVERYDAY}`,
    );
    expectRan(run);
    const v = probeValues(run.stdout);
    for (const step of ['INIT', ...STEPS]) expect(v.get(step), `${step}\n${run.stderr}`).toBe('ok');
    expect(run.stderr).not.toMatch(/QUARANTINED/);
    expectIntact(workspace, ['agent: init', 'agent: notes', 'agent: more', 'agent: feature', 'agent: command']);
  });

  it('an existing repository: every everyday command, and the host sees the agent’s commits', async () => {
    const workspace = makeWorkspace(mode);
    cleanups.push(() => removeWorkspace(workspace));
    makeRepo(mode, workspace, { 'README.md': 'hello\n', 'notes.txt': 'first\n' });
    const run = await runShell(mode, workspace, EVERYDAY);
    expectRan(run);
    const v = probeValues(run.stdout);
    for (const step of STEPS) expect(v.get(step), `${step}\n${run.stderr}`).toBe('ok');
    expect(run.stderr).not.toMatch(/QUARANTINED/);
    expectIntact(workspace, ['initial', 'agent: notes', 'agent: more', 'agent: feature', 'agent: command']);
    expect(readFileSync(join(workspace, 'README.md'), 'utf8')).toBe('hello\n');
  });

  it('a linked worktree (git worktree add) as the workspace: every everyday command', async () => {
    const parent = mkdtempSync('/tmp/warden-git-wt-');
    chmodSync(parent, 0o755);
    cleanups.push(() => rmSync(parent, { recursive: true, force: true }));
    const main = join(parent, 'main');
    const worktree = join(parent, 'wt');
    mkdirSync(main);
    makeRepo(mode, main, { 'README.md': 'main checkout\n', 'notes.txt': 'first\n' });
    giveToSandbox(mode, parent);
    hostGitOk(mode, main, ['worktree', 'add', '-q', '-b', 'feature', worktree]);
    const run = await runShell(mode, worktree, EVERYDAY);
    expectRan(run);
    const v = probeValues(run.stdout);
    for (const step of STEPS) expect(v.get(step), `${step}\n${run.stderr}`).toBe('ok');
    expect(run.stderr).not.toMatch(/QUARANTINED/);
    expectIntact(worktree, ['initial', 'agent: notes', 'agent: more', 'agent: feature', 'agent: command']);
    // The main checkout and its branch are as they were; the worktree's branch has the commits.
    expect(hostGitOk(mode, main, ['status', '--porcelain'])).toBe('');
    expect(hostGitOk(mode, main, ['log', '--format=%s', 'main'])).not.toContain('agent:');
    expect(hostGitOk(mode, main, ['log', '--format=%s', 'feature'])).toContain('agent: command');
    expect(hostGitOk(mode, main, ['worktree', 'list'])).toContain(worktree);
    expect(existsSync(join(main, '.git', 'worktrees', 'wt', 'commondir'))).toBe(true);
  });
});
