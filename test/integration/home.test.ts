/**
 * Persistent homes (`profiles.<name>.home: persistent`) and `--ro PATH`, through the built CLI as
 * root and as an ordinary user: what a run writes under ~ is there in the next run of the same
 * profile and nowhere else (another profile, an ephemeral profile); nothing else of the state dir
 * shows (SBX-04); a home warden cannot trust is refused; `--ro` binds a path read-only for one run
 * and refuses paths that do not exist or are warden's state. A real agent CLI writes the home:
 * Claude Code's binary from npm (`claude --version`), bound with `--ro`.
 */
import {
  chownSync,
  existsSync,
  linkSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  chmodSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  availableModes,
  makeWorkspace,
  REPO,
  removeWorkspace,
  runShell,
  SANDBOX_USER,
  TEST_USER,
  testStateDir,
  userIds,
  warden,
  type Mode,
} from '../helpers/warden.js';

const CLAUDE_BINARY = join(REPO, 'node_modules', '@anthropic-ai', 'claude-code-linux-x64', 'claude');

/** A directory outside every workspace holding Claude Code's binary, readable by every sandbox uid. */
let tools = '';
beforeAll(() => {
  expect(existsSync(CLAUDE_BINARY), `${CLAUDE_BINARY} missing: npm ci (with optional dependencies)`).toBe(true);
  tools = mkdtempSync('/tmp/warden-home-tools-');
  chmodSync(tools, 0o755);
  try {
    linkSync(CLAUDE_BINARY, join(tools, 'claude')); // a hard link costs nothing; a copy 240 MB
  } catch {
    copyFileSync(CLAUDE_BINARY, join(tools, 'claude'));
    chmodSync(join(tools, 'claude'), 0o755);
  }
});
afterAll(() => {
  if (tools !== '') rmSync(tools, { recursive: true, force: true });
});

describe.each(availableModes())('persistent homes and --ro, warden as %s', (mode: Mode) => {
  const sandboxSide = userIds(mode === 'root' ? SANDBOX_USER : TEST_USER);
  const state = testStateDir(mode);
  let workspace = '';
  const profiles: string[] = [];

  /** Fresh profile names (the state dir is shared with other suites), and a warden.yaml with them. */
  function setUp(): { keep: string; other: string; eph: string } {
    const tag = randomBytes(4).toString('hex');
    const names = { keep: `keep-${tag}`, other: `other-${tag}`, eph: `eph-${tag}` };
    profiles.push(names.keep, names.other);
    workspace = makeWorkspace(mode);
    writeFileSync(
      join(workspace, 'warden.yaml'),
      `version: 1\nprofiles:\n  ${names.keep}:\n    home: persistent\n  ${names.other}:\n    home: persistent\n  ${names.eph}:\n    home: ephemeral\n`,
      { mode: 0o644 },
    );
    return names;
  }

  afterEach(async () => {
    // `warden home rm` is the cleanup, and is checked on the way.
    for (const profile of profiles.splice(0)) {
      const rm = await warden(mode, ['home', 'rm', profile], { cwd: workspace || '/' });
      expect(rm.code, rm.stderr).toBe(0);
      expect(existsSync(join(state, 'homes', profile))).toBe(false);
    }
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it('SBX-17 a persistent home keeps what a run wrote for the next run of that profile; another profile and an ephemeral one start empty', async () => {
    const { keep, other, eph } = setUp();
    const first = await runShell(
      mode,
      workspace,
      `"${tools}/claude" --version > ~/claude-version && printf '{"marker":"${keep}"}' > ~/.claude.json && echo HOME=$HOME`,
      ['--profile', keep, '--ro', tools],
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('HOME=/home/agent');

    const second = await runShell(mode, workspace, 'cat ~/.claude.json; echo; cat ~/claude-version', [
      '--profile',
      keep,
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`{"marker":"${keep}"}`);
    expect(second.stdout).toMatch(/\(Claude Code\)/);

    // On the host: the profile's own directory, the sandbox side's, closed to others.
    const home = join(state, 'homes', keep);
    expect(readFileSync(join(home, '.claude.json'), 'utf8')).toBe(`{"marker":"${keep}"}`);
    expect(statSync(home)).toMatchObject({ uid: sandboxSide?.uid, gid: sandboxSide?.gid });
    expect(statSync(home).mode & 0o777).toBe(0o700);
    // As root the sandbox user's group may pass through the state dir and homes/ (bwrap resolves
    // the home by path as that user), and do nothing else there.
    expect(statSync(join(state, 'homes')).mode & 0o777).toBe(mode === 'root' ? 0o710 : 0o700);
    if (mode === 'root') {
      expect(statSync(state).mode & 0o077).toBe(0o010);
      for (const args of [
        ['ls', state],
        ['ls', join(state, 'homes')],
        ['cat', join(state, 'audit.key')],
      ])
        expect(spawnSync('runuser', ['-u', SANDBOX_USER, '--', ...args]).status, args.join(' ')).not.toBe(0);
    }

    for (const profile of [other, eph]) {
      const run = await runShell(mode, workspace, 'ls -A ~; cat ~/.claude.json', ['--profile', profile]);
      expect(run.code, `${profile}: ${run.stdout}`).not.toBe(0);
      expect(run.stdout).not.toContain(keep);
    }
    expect(existsSync(join(state, 'homes', eph)), 'an ephemeral profile gets no home on disk').toBe(false);

    const ls = await warden(mode, ['home', 'ls', '--json'], { cwd: workspace });
    expect(ls.code, ls.stderr).toBe(0);
    const listed = (JSON.parse(ls.stdout) as { profile: string; path: string; bytes: number }[]).find(
      (h) => h.profile === keep,
    );
    expect(listed).toMatchObject({ path: home });
    expect(listed?.bytes).toBeGreaterThan(0);
  });

  it("SBX-04 a persistent home shows nothing else of the state dir: not its path, the audit log, its key or another profile's home", async () => {
    const { keep, other } = setUp();
    // The other profile's home exists and holds a secret.
    const seed = await runShell(mode, workspace, 'echo OTHER-SECRET > ~/secret', ['--profile', other]);
    expect(seed.code, seed.stderr).toBe(0);
    expect(existsSync(join(state, 'audit.db')) && existsSync(join(state, 'audit.key'))).toBe(true);
    const probe = [
      `for p in "${state}" "${state}/audit.db" "${state}/audit.key" "${state}/homes" "${state}/homes/${other}" "${state}/homes/${keep}"; do`,
      '  if [ -e "$p" ]; then echo "VISIBLE $p"; fi',
      'done',
      'echo "HOMES=$(ls -A /home | tr "\\n" " ")"',
      'echo "UP=$(ls -A ~/.. | tr "\\n" " ")"',
      // Every mount: its root in its filesystem, and where it is mounted.
      'awk \'{print "MOUNT " $4 " " $5}\' /proc/self/mountinfo',
      `find /home /tmp /var /run /etc "${workspace}" \\( -name audit.db -o -name audit.key -o -name secret -o -name '${other}' \\) 2>/dev/null | sed 's/^/FOUND /'`,
      'grep -rls OTHER-SECRET /home /tmp /var/tmp /run 2>/dev/null | sed "s/^/FOUND /"',
      'echo done',
    ].join('\n');
    const run = await runShell(mode, workspace, probe, ['--profile', keep]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('done');
    expect(run.stdout).not.toMatch(/VISIBLE|FOUND/);
    expect(run.stdout).toContain('HOMES=agent ');
    expect(run.stdout).toContain('UP=agent ');
    // The one mount from inside the state dir is the profile's home, at /home/agent.
    const fromState = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('MOUNT '))
      .map((line) => line.split(' '))
      .filter(([, root]) => root !== undefined && (root === state || root.startsWith(`${state}/`)));
    expect(fromState.map(([, root, at]) => `${root} ${at}`)).toEqual([`${join(state, 'homes', keep)} /home/agent`]);
  });

  it('SBX-04 a symlink planted where a home should be is refused (HOME_UNUSABLE), never followed', async () => {
    const { keep } = setUp();
    // A directory the sandbox side owns, so that following the link would "work".
    const target = join(workspace, '..', 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    writeFileSync(join(target, 'untouched'), 'x');
    if (sandboxSide !== null) {
      chownSync(target, sandboxSide.uid, sandboxSide.gid);
      chownSync(join(target, 'untouched'), sandboxSide.uid, sandboxSide.gid);
    }
    const homes = join(state, 'homes');
    const made = await runShell(mode, workspace, 'true', ['--profile', keep]); // makes homes/ as warden would
    expect(made.code, made.stderr).toBe(0);
    rmSync(join(homes, keep), { recursive: true, force: true });
    symlinkSync(target, join(homes, keep));
    const run = await runShell(mode, workspace, 'touch ~/planted; echo RAN', ['--profile', keep]);
    expect(run.code).toBe(125);
    expect(run.stdout).not.toContain('RAN');
    expect(run.stderr).toMatch(/is a symlink/);
    expect(run.stderr).toMatch(/warden home rm/);
    expect(run.stderr).toContain('(HOME_UNUSABLE;');
    expect(existsSync(join(target, 'planted'))).toBe(false);
  });

  it("SBX-04 a home of another uid than the sandbox's is refused (HOME_UNUSABLE)", async () => {
    const { keep } = setUp();
    const made = await runShell(mode, workspace, 'true', ['--profile', keep]);
    expect(made.code, made.stderr).toBe(0);
    const home = join(state, 'homes', keep);
    chownSync(home, 4242, 4242);
    const run = await runShell(mode, workspace, 'echo RAN', ['--profile', keep]);
    expect(run.code).toBe(125);
    expect(run.stdout).not.toContain('RAN');
    expect(run.stderr).toContain('(HOME_UNUSABLE;');
    chownSync(home, sandboxSide?.uid ?? 0, sandboxSide?.gid ?? 0);
  });

  it('--ro binds a path read-only for one run; relative paths are resolved against the current directory', async () => {
    setUp();
    const shared = join(workspace, '..', 'shared');
    mkdirSync(shared, { mode: 0o755 });
    writeFileSync(join(shared, 'doc.txt'), 'SHARED-DOC\n', { mode: 0o644 });
    const script = [
      `cat "${shared}/doc.txt"`,
      `if echo x > "${shared}/doc.txt" 2>/dev/null; then echo WROTE; fi`,
      `if touch "${shared}/new" 2>/dev/null; then echo CREATED; fi`,
      'echo done',
    ].join('\n');
    const run = await runShell(mode, workspace, script, ['--ro', '../shared']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('SHARED-DOC');
    expect(run.stdout).toContain('done');
    expect(run.stdout).not.toMatch(/WROTE|CREATED/);
    expect(readFileSync(join(shared, 'doc.txt'), 'utf8')).toBe('SHARED-DOC\n');
    // Without --ro the path does not exist inside.
    const without = await runShell(mode, workspace, `cat "${shared}/doc.txt"`);
    expect(without.code).not.toBe(0);
    expect(without.stdout).not.toContain('SHARED-DOC');
  });

  it('SBX-04 --ro of the state dir, a path inside it or a missing path is refused before anything runs', async () => {
    const { keep } = setUp();
    const made = await runShell(mode, workspace, 'true', ['--profile', keep]);
    expect(made.code, made.stderr).toBe(0);
    for (const [path, code] of [
      [state, 'PATH_POLICY'],
      [join(state, 'homes', keep), 'PATH_POLICY'],
      [join(state, 'audit.key'), 'PATH_POLICY'],
      ['does-not-exist', 'USAGE'],
    ] as const) {
      const run = await runShell(mode, workspace, 'echo RAN', ['--ro', path]);
      expect(run.code, `${path}: ${run.stderr}`).toBe(2);
      expect(run.stdout).not.toContain('RAN');
      expect(run.stderr).toContain(`(${code};`);
    }
  });
});
