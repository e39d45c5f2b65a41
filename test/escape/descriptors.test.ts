/**
 * SBX-23, inherited descriptors: what warden's caller connected to warden's stdin, stdout and
 * stderr (a host log file, the user's terminal) must not be reachable from the sandbox through
 * /proc/self/fd. Each probe tries what an agent would: reopen the descriptor to read the whole
 * file or write over it, read keystrokes from the terminal, push characters into it (TIOCSTI).
 * Run with warden as root and as an ordinary user; each test fails when warden hands the
 * descriptor over as it is.
 */
import { chownSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  makeWorkspace,
  removeWorkspace,
  TEST_USER,
  userIds,
  warden,
  type Mode,
} from '../helpers/warden.js';
import { wardenInPty, type PtyRun } from '../helpers/pty.js';
import { nonce } from './escape-kit.js';

const PY = '/usr/bin/python3';

/**
 * For each of fds 0-2: what it is, and whether reopening it through /proc/self/fd reads what is
 * behind it (the whole file, from the start) or writes over it (at offset 0). Results go to a
 * file in the workspace, since stdout may be the very file under attack.
 */
const REOPEN_PROBE = String.raw`
import errno, json, os, stat, sys
cfg = json.loads(sys.argv[1])
def kind(mode):
    for name, test in (('fifo', stat.S_ISFIFO), ('socket', stat.S_ISSOCK), ('file', stat.S_ISREG), ('chr', stat.S_ISCHR)):
        if test(mode):
            return name
    return 'other'
res = {}
for fd in (0, 1, 2):
    r = {'kind': kind(os.fstat(fd).st_mode)}
    try:
        r['link'] = os.readlink('/proc/self/fd/%d' % fd)
    except OSError as e:
        r['link'] = errno.errorcode.get(e.errno)
    try:
        f = os.open('/proc/self/fd/%d' % fd, os.O_RDONLY | os.O_NONBLOCK)
        try:
            r['read'] = os.read(f, 1 << 20).decode('latin1')
        except OSError as e:
            r['read'] = errno.errorcode.get(e.errno)
        os.close(f)
    except OSError as e:
        r['read'] = errno.errorcode.get(e.errno)
    try:
        f = os.open('/proc/self/fd/%d' % fd, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(f, cfg['marker'].encode())
            r['write'] = 'ok'
        except OSError as e:
            r['write'] = errno.errorcode.get(e.errno)
        os.close(f)
    except OSError as e:
        r['write'] = errno.errorcode.get(e.errno)
    res[str(fd)] = r
with open(cfg['results'], 'w') as out:
    json.dump(res, out)
print('probe output line')
`;

interface Reopened {
  readonly kind: string;
  readonly link: string;
  readonly read: string;
  readonly write: string;
}

describe.each(availableModes())('inherited descriptors, warden as %s', (mode: Mode) => {
  let workspace = '';
  const runs: PtyRun[] = [];
  afterEach(() => {
    for (const run of runs.splice(0)) run.session.close();
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  /** A host file outside the workspace, as a user's log would be: theirs in user mode, root's (0644) otherwise. */
  function hostFile(name: string, content: string, fileMode = 0o644): string {
    const path = join(workspace, '..', name);
    writeFileSync(path, content, { mode: fileMode });
    const owner = mode === 'user' ? userIds(TEST_USER) : null;
    if (owner !== null) chownSync(path, owner.uid, owner.gid);
    return path;
  }

  /** Runs the reopen probe with warden's fd `which` opened on `path` (append, or read for stdin). */
  async function probeWith(
    which: 0 | 1 | 2,
    path: string,
  ): Promise<{ results: Record<string, Reopened>; marker: string }> {
    const marker = `MARKER-${nonce()}`;
    const results = join(workspace, 'results.json');
    const fd = openSync(path, which === 0 ? 'r' : 'a');
    try {
      const stdio: [number | 'pipe', number | 'pipe', number | 'pipe'] = ['pipe', 'pipe', 'pipe'];
      stdio[which] = fd;
      const run = await warden(mode, ['run', '--', PY, '-c', REOPEN_PROBE, JSON.stringify({ marker, results })], {
        cwd: workspace,
        stdio,
      });
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(existsSync(results), 'the probe did not run').toBe(true);
    return { results: JSON.parse(readFileSync(results, 'utf8')) as Record<string, Reopened>, marker };
  }

  it('SBX-23 stdout appended to a host file: the agent can neither read the file through /proc/self/fd/1 nor write over it', async () => {
    workspace = makeWorkspace(mode);
    const canary = `CANARY-${nonce()} earlier lines of the host's log\n`;
    const log = hostFile('host.log', canary);
    const { results, marker } = await probeWith(1, log);
    const stdout = results['1'];
    expect(stdout?.link).not.toBe(log);
    expect(stdout?.kind).not.toBe('file');
    expect(stdout?.read).not.toContain('CANARY');
    const after = readFileSync(log, 'utf8');
    // The host file holds what it held, then the command's output, relayed; nothing written over it.
    expect(after.startsWith(canary), after).toBe(true);
    expect(after).toContain('probe output line');
    expect(after.slice(0, canary.length)).not.toContain(marker);
  });

  it('SBX-23 stderr appended to a host file: not reachable through /proc/self/fd/2', async () => {
    workspace = makeWorkspace(mode);
    const canary = `CANARY-${nonce()} the host's error log\n`;
    const log = hostFile('host-err.log', canary);
    const { results } = await probeWith(2, log);
    expect(results['2']?.link).not.toBe(log);
    expect(results['2']?.kind).not.toBe('file');
    expect(results['2']?.read).not.toContain('CANARY');
    expect(readFileSync(log, 'utf8').startsWith(canary)).toBe(true);
  });

  it('SBX-23 stdin from a writable host file: the agent reads its input but cannot write into the file', async () => {
    workspace = makeWorkspace(mode);
    const input = `INPUT-${nonce()}\n`;
    const file = hostFile('input.txt', input, 0o666);
    const { results, marker } = await probeWith(0, file);
    expect(results['0']?.link).not.toBe(file);
    expect(results['0']?.kind).not.toBe('file');
    expect(readFileSync(file, 'utf8')).toBe(input);
    expect(readFileSync(file, 'utf8')).not.toContain(marker);
  });

  it('SBX-23 under a terminal the host terminal never enters the sandbox: fds 0-2 are a pty of its own', async () => {
    workspace = makeWorkspace(mode);
    const code = String.raw`
import os
for fd in (0, 1, 2):
    st = os.fstat(fd)
    print('FD%d rdev=%d dev=%d' % (fd, st.st_rdev, st.st_dev), flush=True)
# The controlling terminal, by its pts number on the devpts it lives on.
print('CTTY pts=%s dev=%d' % (os.ttyname(0), os.stat(os.ttyname(0)).st_dev), flush=True)
# /dev/tty opens only for a process with a controlling terminal: the sandbox's pty is one.
os.open('/dev/tty', os.O_RDWR)
print('DEVTTY open', flush=True)
`;
    const run = wardenInPty(mode, ['--', PY, '-c', code], { cwd: workspace });
    runs.push(run);
    const { exit } = await run.done;
    expect(exit.code, run.session.text).toBe(0);
    const host = run.session.tty;
    expect(host).not.toBeNull();
    // A pts number means nothing alone (each devpts counts from 0): a terminal is the host's when
    // it is the same device on the same devpts instance.
    const seen = [...run.session.text.matchAll(/(FD\d) rdev=(\d+) dev=(\d+)/g)];
    expect(seen.length, run.session.text).toBe(3);
    for (const [, what, rdev, dev] of seen) {
      expect(`${dev}:${rdev}`, `${what} is the host's terminal (${host?.path ?? ''})`).not.toBe(
        `${host?.dev}:${host?.rdev}`,
      );
    }
    expect(run.session.text).toMatch(/CTTY pts=\/dev\/pts\/\d+ dev=\d+/);
    expect(run.session.text).not.toContain(`dev=${host?.dev}\n`);
    expect(run.session.text).toContain('DEVTTY open');
  });

  it('SBX-23 TIOCSTI: characters the agent pushes into its terminal never reach the host terminal', async () => {
    workspace = makeWorkspace(mode);
    const marker = `PWNED${nonce()}`;
    const code = String.raw`
import errno, fcntl, os, sys, termios
marker = sys.argv[1]
targets = {'0': 0, '1': 1, '2': 2}
try:
    targets['tty'] = os.open('/dev/tty', os.O_RDWR)
except OSError as e:
    print('TIOCSTI tty', errno.errorcode.get(e.errno), flush=True)
for name, fd in targets.items():
    result = 'ok'
    for ch in ('echo %s\n' % marker).encode():
        try:
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        except OSError as e:
            result = errno.errorcode.get(e.errno)
            break
    print('TIOCSTI', name, result, flush=True)
`;
    const run = wardenInPty(mode, ['--', PY, '-c', code, marker], { cwd: workspace });
    runs.push(run);
    const { exit } = await run.done;
    expect(exit.code, run.session.text).toBe(0);
    expect(run.session.text).toMatch(/TIOCSTI tty \w+/);
    // Three layers stop this, and the test fails only when all are gone: seccomp refuses TIOCSTI
    // (test/integration/seccomp.test.ts), bwrap's --new-session keeps the host terminal from being
    // the sandbox's controlling terminal, and with the pty the host terminal is not inside at
    // all (characters pushed into the sandbox's own pty stay there). Whatever got through, nothing
    // may be left in the host terminal for the user's shell to run when warden exits.
    expect(await run.session.pending()).not.toContain(marker);
  });

  it("SBX-23 a host terminal on stdout alone is relayed: the agent cannot read the user's keystrokes from it", async () => {
    workspace = makeWorkspace(mode);
    const secret = `SECRET${nonce()}`;
    const results = join(workspace, 'stolen.txt');
    const code = String.raw`
import errno, os, select, sys, time
got = b''
# Read the terminal two ways: through stdout itself, and reopened through /proc for reading.
fds = [1]
try:
    fds.append(os.open('/proc/self/fd/1', os.O_RDONLY | os.O_NONBLOCK))
except OSError as e:
    print('REOPEN', errno.errorcode.get(e.errno), flush=True)
os.set_blocking(1, False)
print('READY', flush=True)
deadline = time.time() + 4
while time.time() < deadline:
    r, _, _ = select.select(fds, [], [], 0.1)
    for fd in r:
        try:
            got += os.read(fd, 4096)
        except OSError:
            time.sleep(0.1)
open(sys.argv[1], 'wb').write(got)
`;
    // stdin is /dev/null, so there is no pty: the terminal is only warden's stdout and stderr.
    const run = wardenInPty(mode, ['--', PY, '-c', code, results], { cwd: workspace, stdinNull: true });
    runs.push(run);
    await run.session.waitFor('READY');
    run.session.write(`${secret}\r`);
    const { exit } = await run.done;
    expect(exit.code, run.session.text).toBe(0);
    expect(readFileSync(results, 'latin1')).not.toContain(secret);
    // The keystrokes are still in the user's terminal, unread: typed, not stolen.
    expect(await run.session.pending()).toContain(secret);
  });
});
