/**
 * Nothing the agent writes makes the host run code later (SBX-06, SBX-20, SBX-21, SBX-22), tried
 * from a real sandbox as an agent would, with warden as root and as an ordinary user. Where the
 * host would run something (git's hooks and fsmonitor), the host's real git is run afterwards,
 * as the workspace's owner, and the test checks that the agent's command never ran.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTECTED_ENTRIES } from '../../src/sandbox/host-exec.js';
import { HAVE_GIT, hostGit, hostGitOk, makeRepo } from '../helpers/git.js';
import {
  availableModes,
  expectRan,
  giveToSandbox,
  makeWorkspace,
  probeValues,
  removeWorkspace,
  runShell,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';
import { auditEvents, runIdOf } from './escape-kit.js';

/** The summary's post-run findings (--json). */
function findings(run: WardenResult): { path: string; kind: string; action: string; moved_to: string | null }[] {
  const summary = run.summary as unknown as { post_run?: { findings: [] } } | null;
  return summary?.post_run?.findings ?? [];
}

/** A shell function the probes use: `try NAME 'command'` prints NAME=ok or NAME=fail. */
const TRY = `try() { n=$1; shift; if sh -c "$*" 2>/dev/null; then echo "$n=ok"; else echo "$n=fail"; fi; }`;
const key = (entry: string): string =>
  entry
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')
    .toUpperCase();

/** The host-run entries other than git's own (those have their own tests below). */
const ENTRIES = PROTECTED_ENTRIES.filter((e) => !e.entry.startsWith('.git/'));

/** What an existing entry holds before the run: warden's own files must still parse (warden reads them at start). */
function original(entry: string): string {
  return entry.startsWith('warden.') ? 'version: 1\n# ORIGINAL\n' : 'ORIGINAL\n';
}

/** Content that makes the entry's host program run the agent's command. */
function plantedContent(entry: string): string {
  if (entry.endsWith('.mcp.json'))
    return JSON.stringify({ mcpServers: { evil: { command: 'sh', args: ['-c', 'id'] } } });
  if (entry.startsWith('.claude/'))
    return JSON.stringify({ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'id > /tmp/pwned' }] }] } });
  if (entry.endsWith('.json')) return JSON.stringify({ initializeCommand: 'id > /tmp/pwned' });
  if (entry.endsWith('.yaml') || entry.endsWith('.yml')) return 'pre-commit:\n  commands:\n    x:\n      run: id\n';
  return 'id > /tmp/pwned\n';
}

describe.each(availableModes())('host-run files, warden as %s', (mode: Mode) => {
  let workspace = '';
  afterEach(() => {
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it('SBX-06 existing git hooks, git config and shell files cannot be changed, renamed or replaced', async () => {
    workspace = makeWorkspace(mode);
    mkdirSync(join(workspace, '.git', 'hooks'), { recursive: true });
    writeFileSync(join(workspace, '.git', 'hooks', 'pre-commit'), 'ORIGINAL\n', { mode: 0o755 });
    const originalConfig = '[core]\n\tbare = false\n';
    writeFileSync(join(workspace, '.git', 'config'), originalConfig);
    writeFileSync(join(workspace, '.bashrc'), 'ORIGINAL\n');
    giveToSandbox(mode, workspace);
    const script = `${TRY}
      try HOOK_EXISTING 'echo EVIL > .git/hooks/pre-commit'
      try HOOK_NEW 'echo EVIL > .git/hooks/post-checkout'
      try HOOK_SYMLINK 'ln -s /tmp/evil .git/hooks/pre-push'
      try HOOK_DIR_RENAME 'mv .git/hooks .git/hooks-old'
      try GIT_CONFIG 'echo "[core] fsmonitor = evil" >> .git/config'
      try GIT_RENAME 'mv .git .git-moved && mkdir -p .git/hooks && echo EVIL > .git/hooks/pre-commit'
      try BASHRC_APPEND 'echo EVIL >> .bashrc'
      try BASHRC_REPLACE 'rm -f .bashrc && echo EVIL > .bashrc'
      try BASHRC_RENAME 'mv .bashrc bashrc-moved'
      try BASHRC_CHMOD 'chmod 777 .bashrc'
      try BASHRC_LINK 'ln .bashrc bashrc-hardlink && echo EVIL >> bashrc-hardlink'
      try BASHRC_REOPEN 'exec 3<.bashrc; echo EVIL >> /proc/self/fd/3'
      try GIT_INDEX 'echo data > .git/index'
      try PLAIN_FILE 'echo data > notes.txt'`;
    const run = await runShell(mode, workspace, script);
    expectRan(run);
    const v = probeValues(run.stdout);
    for (const attack of [
      'HOOK_EXISTING',
      'HOOK_NEW',
      'HOOK_SYMLINK',
      'HOOK_DIR_RENAME',
      'GIT_CONFIG',
      'GIT_RENAME',
      'BASHRC_APPEND',
      'BASHRC_REPLACE',
      'BASHRC_RENAME',
      'BASHRC_CHMOD',
      'BASHRC_LINK',
      'BASHRC_REOPEN',
    ])
      expect(v.get(attack), attack).toBe('fail');
    // Controls: ordinary files, inside .git too, stay writable.
    expect(v.get('GIT_INDEX')).toBe('ok');
    expect(v.get('PLAIN_FILE')).toBe('ok');
    expect(readFileSync(join(workspace, '.git', 'hooks', 'pre-commit'), 'utf8')).toBe('ORIGINAL\n');
    expect(readFileSync(join(workspace, '.git', 'config'), 'utf8')).toBe(originalConfig);
    expect(readFileSync(join(workspace, '.bashrc'), 'utf8')).toBe('ORIGINAL\n');
    expect(statSync(join(workspace, '.bashrc')).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(workspace, '.git', 'hooks'))).toEqual(['pre-commit']);
    for (const name of ['.git-moved', 'bashrc-moved', 'bashrc-hardlink'])
      expect(existsSync(join(workspace, name)), name).toBe(false);
  });

  it(`SBX-06 SBX-20 every protected entry (${ENTRIES.length}) that exists is read-only inside the sandbox`, async () => {
    workspace = makeWorkspace(mode);
    for (const { entry } of ENTRIES) {
      const path = join(workspace, entry);
      if (entry.endsWith('/')) {
        mkdirSync(path, { recursive: true });
        writeFileSync(join(path, 'existing'), 'ORIGINAL\n');
      } else {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, original(entry));
      }
    }
    giveToSandbox(mode, workspace);
    const lines = ENTRIES.flatMap(({ entry }) =>
      entry.endsWith('/')
        ? [
            `try ${key(entry)}_EDIT 'echo EVIL >> ${entry}existing'`,
            `try ${key(entry)}_NEW 'echo EVIL > ${entry}new'`,
            `try ${key(entry)}_MOVE 'mv ${entry.slice(0, -1)} moved-${key(entry)}'`,
          ]
        : [
            `try ${key(entry)}_EDIT 'echo EVIL >> ${entry}'`,
            `try ${key(entry)}_MOVE 'mv ${entry} moved-${key(entry)}'`,
          ],
    );
    const run = await runShell(mode, workspace, `${TRY}\n${lines.join('\n')}\ntry CONTROL 'echo x > plain.txt'`);
    expectRan(run);
    const v = probeValues(run.stdout);
    expect(v.get('CONTROL')).toBe('ok');
    for (const { entry } of ENTRIES) {
      for (const attack of entry.endsWith('/') ? ['EDIT', 'NEW', 'MOVE'] : ['EDIT', 'MOVE'])
        expect(v.get(`${key(entry)}_${attack}`), `${entry} ${attack}`).toBe('fail');
      const file = entry.endsWith('/') ? join(workspace, entry, 'existing') : join(workspace, entry);
      expect(readFileSync(file, 'utf8'), entry).toBe(entry.endsWith('/') ? 'ORIGINAL\n' : original(entry));
    }
  });

  it(`SBX-06 SBX-20 every protected entry (${ENTRIES.length}) the agent creates is quarantined after the run, reported and audited`, async () => {
    workspace = makeWorkspace(mode);
    const lines = ENTRIES.map(({ entry }) => {
      const bare = entry.replace(/\/$/, '');
      const file = entry.endsWith('/') ? `${bare}/settings.json` : bare;
      return `mkdir -p "$(dirname ${file})" && printf '%s' '${plantedContent(file)}' > ${file} && echo ${key(entry)}=made`;
    });
    const run = await runShell(mode, workspace, lines.join('\n'));
    expectRan(run);
    const v = probeValues(run.stdout);
    const runId = runIdOf(run);
    const events = await auditEvents(mode, workspace, runId);
    const violations = events.filter((e) => e.type === 'violation' && e.data.kind === 'host_exec_planted');
    for (const { entry } of ENTRIES) {
      const path = join(workspace, entry.replace(/\/$/, ''));
      expect(v.get(key(entry)), `${entry} could not even be created`).toBe('made');
      expect(existsSync(path), `${entry} is still where the host would use it`).toBe(false);
      expect(existsSync(`${path}.warden-quarantine-${runId}`), `${entry} was not kept aside`).toBe(true);
      expect(run.stderr).toContain(`QUARANTINED ${path}:`);
      expect(findings(run)).toContainEqual(expect.objectContaining({ path, kind: 'host_exec_planted' }));
      expect(
        violations.some((e) => String(e.data.detail).startsWith(`${path}:`)),
        entry,
      ).toBe(true);
    }
  });

  it('SBX-06 SBX-20 new agent files that run nothing stay: .claude/commands, a data-only settings file, an empty .mcp.json', async () => {
    workspace = makeWorkspace(mode);
    const script = `mkdir -p .claude/commands && echo 'Review the diff' > .claude/commands/review.md &&
      echo '{"permissions": {"deny": ["Bash(rm:*)"]}}' > .claude/settings.local.json &&
      echo '{"mcpServers": {}}' > .mcp.json && echo MADE=yes`;
    const run = await runShell(mode, workspace, script);
    expectRan(run);
    expect(probeValues(run.stdout).get('MADE')).toBe('yes');
    expect(run.stderr).not.toMatch(/QUARANTINED/);
    for (const name of ['.claude/commands/review.md', '.claude/settings.local.json', '.mcp.json'])
      expect(existsSync(join(workspace, name)), name).toBe(true);
  });

  describe.skipIf(!HAVE_GIT)(`git on the host after the run${HAVE_GIT ? '' : ' (skipped: needs /usr/bin/git)'}`, () => {
    /** The file the agent's command writes if the host ever runs it. */
    const ran = (): boolean => existsSync(join(workspace, 'hook-ran'));
    /** A command the host must never run: it leaves `hook-ran` in the workspace. */
    const evil = (): string => `echo agent code > ${workspace}/hook-ran`;

    it('SBX-06 a .git/commondir the agent writes is quarantined: the next host commit runs none of its hooks', async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      // Git reads config and hooks from $GIT_DIR/commondir when that file exists.
      const script = `
        mkdir -p evil/hooks && cp -r .git/objects .git/refs .git/HEAD evil/
        printf '[core]\\n\\trepositoryformatversion = 0\\n\\thooksPath = %s/evil/hooks\\n' "$PWD" > evil/config
        printf '#!/bin/sh\\n${evil()}\\n' > evil/hooks/pre-commit && chmod +x evil/hooks/pre-commit
        echo ../evil > .git/commondir && echo COMMONDIR=written`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('COMMONDIR')).toBe('written');
      const commit = hostGit(mode, workspace, ['commit', '-q', '--allow-empty', '-m', 'after the run']);
      expect(commit.status, commit.stderr).toBe(0);
      expect(ran(), 'the host ran a hook the agent reached through .git/commondir').toBe(false);
      const runId = runIdOf(run);
      expect(existsSync(join(workspace, '.git', 'commondir'))).toBe(false);
      expect(existsSync(join(workspace, '.git', `commondir.warden-quarantine-${runId}`))).toBe(true);
      expect(run.stderr).toMatch(/QUARANTINED git .*\.git\/commondir: it has a commondir/);
      // The user's repository itself is untouched.
      expect(hostGitOk(mode, workspace, ['log', '--format=%s'])).toContain('initial');
    });

    it('SBX-06 a nested repository the agent creates (pkg/.git/config with core.fsmonitor) runs nothing on the host', async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      const script = `
        mkdir -p pkg && cd pkg && git init -q . && echo NESTED=created
        printf '[core]\\n\\tfsmonitor = "${evil()}; false"\\n' >> .git/config && echo CONFIG=written`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('CONFIG')).toBe('written');
      hostGit(mode, join(workspace, 'pkg'), ['status', '--short']);
      expect(ran(), 'the host ran a command the agent configured').toBe(false);
      expect(existsSync(join(workspace, 'pkg', '.git'))).toBe(false);
      expect(readdirSync(join(workspace, 'pkg')).some((name) => name.startsWith('.git.warden-quarantine-'))).toBe(true);
      expect(run.stderr).toMatch(/QUARANTINED git .*pkg\/\.git: config: sets core\.fsmonitor/);
      const events = await auditEvents(mode, workspace, runIdOf(run));
      expect(events.some((e) => e.type === 'violation' && e.data.kind === 'git_planted')).toBe(true);
    });

    it('SBX-06 control: a repository the agent creates without code-running config or hooks is left alone', async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      const script = `mkdir -p vendor/lib && cd vendor/lib && git init -q . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && git config remote.origin.url https://example.com/lib.git && echo NESTED=ok`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('NESTED')).toBe('ok');
      expect(existsSync(join(workspace, 'vendor', 'lib', '.git', 'HEAD'))).toBe(true);
      expect(run.stderr).not.toMatch(/QUARANTINED/);
    });

    it("SBX-06 a bare repository the agent plants (HEAD, objects, refs, config with a hook path) is taken out of git's reach", async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      const script = `git init -q --bare planted && printf '[core]\\n\\thooksPath = /tmp\\n\\tfsmonitor = "${evil()}; false"\\n' >> planted/config && echo BARE=made`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('BARE')).toBe('made');
      expect(existsSync(join(workspace, 'planted', 'HEAD'))).toBe(false);
      expect(readdirSync(join(workspace, 'planted')).some((name) => name.startsWith('HEAD.warden-quarantine-'))).toBe(
        true,
      );
      expect(run.stderr).toMatch(/QUARANTINED git .*planted: config: sets core\.hookspath/);
    });

    it('SBX-06 hooks in a core.hooksPath inside the workspace are write-protected too', async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace, { '.githooks/pre-commit': '#!/bin/sh\ntrue\n' });
      chmodSync(join(workspace, '.githooks', 'pre-commit'), 0o755);
      hostGitOk(mode, workspace, ['config', 'core.hooksPath', '.githooks']);
      const script = `${TRY}
        try HOOK "printf 'echo agent code > %s/hook-ran\\n' \\"$PWD\\" >> .githooks/pre-commit"
        try NEW_HOOK "printf '#!/bin/sh\\necho agent code > %s/hook-ran\\n' \\"$PWD\\" > .githooks/post-commit && chmod +x .githooks/post-commit"`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      const v = probeValues(run.stdout);
      const commit = hostGit(mode, workspace, ['commit', '-q', '--allow-empty', '-m', 'after']);
      expect(commit.status, commit.stderr).toBe(0);
      expect(ran(), `the host ran a hook the agent wrote (HOOK ${v.get('HOOK') ?? '?'})`).toBe(false);
      expect(v.get('HOOK')).toBe('fail');
      expect(v.get('NEW_HOOK')).toBe('fail');
    });

    it('SBX-20 husky 9 (core.hooksPath=.husky/_): the agent cannot change .husky/<hook>, which the hooks run', async () => {
      workspace = makeWorkspace(mode);
      // What `husky` 9 writes: .husky/_/<hook> sources .husky/_/h, which runs .husky/<hook>.
      const h = 'n=$(basename "$0")\ns=$(dirname "$(dirname "$0")")/$n\n[ ! -f "$s" ] && exit 0\nsh -e "$s" "$@"\n';
      const hook = '#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n';
      makeRepo(mode, workspace, {
        '.husky/_/h': h,
        '.husky/_/pre-commit': hook,
        '.husky/_/post-commit': hook,
        '.husky/pre-commit': 'true\n',
      });
      for (const f of ['h', 'pre-commit', 'post-commit']) chmodSync(join(workspace, '.husky', '_', f), 0o755);
      hostGitOk(mode, workspace, ['config', 'core.hooksPath', '.husky/_']);
      const script = `${TRY}
        try EDIT "echo '${evil()}' >> .husky/pre-commit"
        try NEW "echo '${evil()}' > .husky/post-commit"
        try H "echo '${evil()}' >> .husky/_/h"`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      const v = probeValues(run.stdout);
      const commit = hostGit(mode, workspace, ['commit', '-q', '--allow-empty', '-m', 'after']);
      expect(commit.status, commit.stderr).toBe(0);
      expect(
        ran(),
        `the host's commit ran the agent's code (EDIT ${v.get('EDIT') ?? '?'}, NEW ${v.get('NEW') ?? '?'})`,
      ).toBe(false);
      for (const attack of ['EDIT', 'NEW', 'H']) expect(v.get(attack), attack).toBe('fail');
      expect(readFileSync(join(workspace, '.husky', 'pre-commit'), 'utf8')).toBe('true\n');
    });

    it('SBX-20 scripts that git hooks, agent settings, MCP configs and hook managers name are read-only; a named one the agent creates is quarantined', async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace, {
        'scripts/verify.sh': '#!/bin/sh\ntrue\n',
        '.claude/settings.json': JSON.stringify({
          hooks: {
            PostToolUse: [{ hooks: [{ type: 'command', command: '"$CLAUDE_PROJECT_DIR"/.claude/hooks/fmt.sh' }] }],
            Stop: [{ hooks: [{ type: 'command', command: 'bash .claude/hooks/stop.sh' }] }],
          },
        }),
        '.claude/hooks/fmt.sh': '#!/bin/sh\ntrue\n',
        '.mcp.json': JSON.stringify({ mcpServers: { local: { command: 'node', args: ['tools/mcp.js'] } } }),
        'tools/mcp.js': '// server\n',
        '.pre-commit-config.yaml':
          'repos:\n  - repo: local\n    hooks:\n      - id: lint\n        name: lint\n        entry: ./tools/lint.sh\n        language: script\n',
        'tools/lint.sh': '#!/bin/sh\ntrue\n',
        'lefthook.yml': 'pre-push:\n  commands:\n    check:\n      run: sh tools/check.sh\n',
        'tools/check.sh': '#!/bin/sh\ntrue\n',
        'src/app.js': '// ordinary source\n',
      });
      writeFileSync(join(workspace, '.git', 'hooks', 'pre-commit'), '#!/bin/sh\n./scripts/verify.sh\n', {
        mode: 0o755,
      });
      giveToSandbox(mode, workspace);
      const script = `${TRY}
        for f in scripts/verify.sh .claude/hooks/fmt.sh tools/mcp.js tools/lint.sh tools/check.sh; do
          try "EDIT_$(echo $f | tr a-z./ A-Z__)" "echo '${evil()}' >> $f"
        done
        try NAMED_NEW "echo '${evil()}' > .claude/hooks/stop.sh"
        try CONTROL "echo '// changed' >> src/app.js"`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      const v = probeValues(run.stdout);
      for (const name of [
        'SCRIPTS_VERIFY_SH',
        '_CLAUDE_HOOKS_FMT_SH',
        'TOOLS_MCP_JS',
        'TOOLS_LINT_SH',
        'TOOLS_CHECK_SH',
      ])
        expect(v.get(`EDIT_${name}`), name).toBe('fail');
      expect(v.get('CONTROL')).toBe('ok');
      // A script a protected config names, created by the agent, is moved aside after the run.
      expect(v.get('NAMED_NEW')).toBe('ok');
      expect(existsSync(join(workspace, '.claude', 'hooks', 'stop.sh'))).toBe(false);
      expect(run.stderr).toContain(`QUARANTINED ${join(workspace, '.claude', 'hooks', 'stop.sh')}:`);
      const commit = hostGit(mode, workspace, ['commit', '-q', '--allow-empty', '-m', 'after']);
      expect(commit.status, commit.stderr).toBe(0);
      expect(ran()).toBe(false);
    });

    it("SBX-21 a repository planted inside the repository's own .git/objects runs nothing when the host's git visits it", async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      const script = `mkdir -p .git/objects/zz/evil && cd .git/objects/zz/evil && git init -q . &&
        printf '[core]\\n\\tfsmonitor = "${evil()}; false"\\n' >> .git/config && echo PLANTED=yes`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('PLANTED')).toBe('yes');
      const planted = join(workspace, '.git', 'objects', 'zz', 'evil');
      if (existsSync(planted)) hostGit(mode, planted, ['status', '--short']);
      expect(ran(), "the host's git ran the fsmonitor of a repository hidden in .git/objects").toBe(false);
      expect(run.stderr).toMatch(/QUARANTINED git .*objects\/zz\/evil\/\.git/);
      expect(hostGitOk(mode, workspace, ['log', '--format=%s'])).toContain('initial');
    });

    it("SBX-21 a git dir hidden in another repository's refs/ and reached through a gitfile runs nothing when the host runs git there", async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      const script = `git init -q --bare .git/refs/tags/store &&
        printf '[core]\\n\\tfsmonitor = "${evil()}; false"\\n\\tbare = false\\n' >> .git/refs/tags/store/config &&
        mkdir -p app && echo 'gitdir: ../.git/refs/tags/store' > app/.git && echo PLANTED=yes`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('PLANTED')).toBe('yes');
      hostGit(mode, join(workspace, 'app'), ['status', '--short']);
      expect(ran(), "the host's git followed the gitfile to the agent's fsmonitor").toBe(false);
      expect(run.stderr).toMatch(/QUARANTINED git .*refs\/tags\/store/);
      expect(hostGitOk(mode, workspace, ['log', '--format=%s'])).toContain('initial');
    });

    it('SBX-21 a repository under a directory the agent made unreadable is found all the same', async () => {
      workspace = makeWorkspace(mode);
      makeRepo(mode, workspace);
      const script = `mkdir -p locked/app && cd locked/app && git init -q . &&
        printf '[core]\\n\\tfsmonitor = "${evil()}; false"\\n' >> .git/config && cd ../.. && chmod 000 locked && echo PLANTED=yes`;
      const run = await runShell(mode, workspace, script);
      expectRan(run);
      expect(probeValues(run.stdout).get('PLANTED')).toBe('yes');
      // Root's git reads any directory: the threat is an administrator's (or a root IDE's) git there.
      spawnSync('git', ['-c', 'safe.directory=*', '-C', join(workspace, 'locked', 'app'), 'status', '--short'], {
        env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1' },
      });
      expect(ran(), "root's git ran the fsmonitor of a repository hidden under an unreadable directory").toBe(false);
      expect(run.stderr).toMatch(/QUARANTINED git .*locked\/app\/\.git/);
    });
  });

  it('SBX-22 setuid/setgid bits cannot be set inside; FIFOs and sockets the agent leaves are removed and reported', async () => {
    workspace = makeWorkspace(mode);
    const code = String.raw`
import errno, os, socket, stat
def attempt(name, fn):
    try:
        fn(); print(name + '=ok')
    except OSError as e:
        print(name + '=' + errno.errorcode.get(e.errno, str(e.errno)))
open('tool', 'w').close()
attempt('CHMOD_SUID', lambda: os.chmod('tool', 0o4755))
attempt('CHMOD_SGID', lambda: os.chmod('tool', 0o2755))
fd = os.open('tool', os.O_RDONLY)
attempt('FCHMOD_SUID', lambda: os.fchmod(fd, 0o4755))
attempt('OPEN_CREAT_SUID', lambda: os.close(os.open('made', os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt('MKNOD_SUID', lambda: os.mknod('node', 0o104755))
attempt('CHMOD_PLAIN', lambda: os.chmod('tool', 0o755))
attempt('MKFIFO', lambda: os.mkfifo('fifo'))
s = socket.socket(socket.AF_UNIX)
attempt('SOCKET', lambda: s.bind('sock'))
for name in ('tool', 'made', 'node'):
    if os.path.exists(name):
        print('MODE_' + name.upper() + '=' + oct(os.stat(name).st_mode & 0o7777))
`;
    const run = await runShell(mode, workspace, `python3 -c '${code.replace(/'/g, `'"'"'`)}'`);
    expectRan(run);
    const v = probeValues(run.stdout);
    for (const attack of ['CHMOD_SUID', 'CHMOD_SGID', 'FCHMOD_SUID', 'OPEN_CREAT_SUID', 'MKNOD_SUID'])
      expect(v.get(attack), attack).toBe('EPERM');
    // Controls: ordinary modes and FIFOs work inside.
    expect(v.get('CHMOD_PLAIN')).toBe('ok');
    expect(v.get('MKFIFO')).toBe('ok');
    expect(v.get('SOCKET')).toBe('ok');
    // On the host afterwards: no setuid/setgid file, no FIFO, no socket.
    for (const name of readdirSync(workspace)) {
      const st = statSync(join(workspace, name), { throwIfNoEntry: false });
      if (st !== undefined) expect(st.mode & 0o6000, name).toBe(0);
    }
    expect(existsSync(join(workspace, 'fifo'))).toBe(false);
    expect(existsSync(join(workspace, 'sock'))).toBe(false);
    expect(run.stderr).toContain(`REMOVED ${join(workspace, 'fifo')}: a FIFO left by the run`);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(events.filter((e) => e.type === 'violation' && e.data.kind === 'special_file')).toHaveLength(2);
  });
});
