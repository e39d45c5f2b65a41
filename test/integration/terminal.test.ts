/**
 * A terminal agent gets a terminal: `warden run` on a real pty (test/helpers/pty.ts), as root and
 * as an ordinary user. The command gets a pty of the sandbox's own: isatty, `tty`, the window
 * size and its changes, Ctrl-C as SIGINT, job control; Ctrl-C twice stops a command that does
 * not exit by itself; the user's terminal is back in cooked mode, with every mode the command
 * switched on switched off, on every way a run can end.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableModes, makeWorkspace, removeWorkspace, TEST_USER, userIds, type Mode } from '../helpers/warden.js';
import { wardenInPty, type PtyRun } from '../helpers/pty.js';

const PY = '/usr/bin/python3';
/** What a TUI switches on: the alternate screen and a hidden cursor. */
const TUI_ON = '\\x1b[?1049h\\x1b[?25l';

describe.each(availableModes())('terminal, warden as %s', (mode: Mode) => {
  let workspace = '';
  const runs: PtyRun[] = [];
  afterEach(() => {
    for (const run of runs.splice(0)) run.session.close();
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });
  const start = (args: readonly string[], options: { rows?: number; cols?: number } = {}): PtyRun => {
    workspace = makeWorkspace(mode);
    const run = wardenInPty(mode, args, { cwd: workspace, ...options });
    runs.push(run);
    return run;
  };
  const expectCooked = async (run: PtyRun): Promise<void> => {
    expect(await run.session.termios()).toEqual({ icanon: true, echo: true, isig: true, icrnl: true, opost: true });
  };

  it('the command gets a pty of its own: isatty, tty, window size and TERM', async () => {
    const run = start(
      [
        '--',
        '/bin/sh',
        '-c',
        'test -t 0 && test -t 1 && test -t 2 && echo ALL-TTY; echo "TTY=$(tty)"; echo "SIZE=$(stty size)"; echo "TERM=$TERM"',
      ],
      { rows: 33, cols: 111 },
    );
    const { exit, summary } = await run.done;
    const text = run.session.text;
    expect(text).toContain('ALL-TTY');
    expect(text).toContain('TTY=/dev/pts/0');
    expect(text).toContain('SIZE=33 111');
    expect(text).toContain('TERM=xterm-256color');
    expect(exit.code, text).toBe(0);
    expect(summary).toMatchObject({ reason: 'exited', exit_code: 0 });
    await expectCooked(run);
  });

  it('a window size change reaches the command as SIGWINCH with the new size', async () => {
    const code = `
import fcntl, os, signal, struct, sys, termios, time
def size():
    rows, cols, _, _ = struct.unpack('HHHH', fcntl.ioctl(0, termios.TIOCGWINSZ, b'\\0' * 8))
    return '%dx%d' % (rows, cols)
got = []
signal.signal(signal.SIGWINCH, lambda *_: got.append(size()))
print('START', size(), flush=True)
deadline = time.time() + 20
while not got and time.time() < deadline:
    time.sleep(0.05)
print('WINCH', got[0] if got else 'none', flush=True)
`;
    const run = start(['--', PY, '-c', code], { rows: 24, cols: 80 });
    await run.session.waitFor('START 24x80');
    run.session.resize(41, 132);
    const { exit } = await run.done;
    expect(run.session.text).toContain('WINCH 41x132');
    expect(exit.code, run.session.text).toBe(0);
  });

  it('Ctrl-C reaches the command as SIGINT; it carries on and its own exit code is reported', async () => {
    const code = `
import signal, sys
signal.signal(signal.SIGINT, lambda *_: print('GOT-SIGINT', flush=True))
print('READY', flush=True)
line = sys.stdin.readline()
print('LINE', line.strip(), flush=True)
sys.exit(3)
`;
    const run = start(['--', PY, '-c', code]);
    await run.session.waitFor('READY');
    run.session.write('\x03');
    await run.session.waitFor('GOT-SIGINT');
    run.session.write('bye\r');
    const { exit, summary } = await run.done;
    expect(run.session.text).toContain('LINE bye');
    expect(exit.code).toBe(3);
    expect(summary).toMatchObject({ reason: 'exited', exit_code: 3, command_exit_code: 3 });
    await expectCooked(run);
  });

  it('job control works inside: Ctrl-Z stops a shell job, fg and Ctrl-C end it', async () => {
    const run = start(['--', '/bin/bash', '--norc', '--noprofile', '-i']);
    await run.session.waitFor(/\$ $/m);
    run.session.write('sleep 300\r');
    await new Promise((resolve) => setTimeout(resolve, 500));
    run.session.write('\x1a');
    await run.session.waitFor(/Stopped\s+sleep 300/);
    run.session.write('fg\r');
    await new Promise((resolve) => setTimeout(resolve, 500));
    run.session.write('\x03');
    run.session.write('echo "JOBS=$(jobs | wc -l)"; exit 4\r');
    const { exit, summary } = await run.done;
    expect(run.session.text).toContain('JOBS=0');
    expect(exit.code).toBe(4);
    expect(summary).toMatchObject({ reason: 'exited', exit_code: 4 });
  });

  it('Ctrl-C twice: a command that does not exit is stopped after the grace (interrupted, 130), the terminal restored', async () => {
    const code = `
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
os.write(1, b'${TUI_ON}READY\\r\\n')
time.sleep(60)
`;
    const run = start(['--', PY, '-c', code]);
    await run.session.waitFor('READY');
    const began = Date.now();
    run.session.write('\x03');
    await new Promise((resolve) => setTimeout(resolve, 300));
    run.session.write('\x03');
    const { exit, summary } = await run.done;
    const waited = Date.now() - began;
    expect(exit.code, run.session.text).toBe(130);
    expect(summary).toMatchObject({ reason: 'interrupted', exit_code: 130 });
    // The command had its grace (INTERRUPT_GRACE_MS, 5 s) before warden stepped in.
    expect(waited).toBeGreaterThanOrEqual(4500);
    expect(waited).toBeLessThan(20_000);
    expect(run.session.output).toContain('\x1b[?1049l');
    expect(run.session.output).toContain('\x1b[?25h');
    await expectCooked(run);
  });

  it('Ctrl-C once, or twice far apart, never stops the run', async () => {
    const code = `
import os, signal, sys, time
signal.signal(signal.SIGINT, lambda *_: os.write(1, b'INT\\r\\n'))
print('READY', flush=True)
sys.stdin.readline()
sys.exit(0)
`;
    const run = start(['--', PY, '-c', code]);
    await run.session.waitFor('READY');
    run.session.write('\x03');
    await new Promise((resolve) => setTimeout(resolve, 2600));
    run.session.write('\x03');
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect((run.session.text.match(/INT/g) ?? []).length).toBe(2);
    run.session.write('\r');
    const { exit, summary } = await run.done;
    expect(exit.code).toBe(0);
    expect(summary).toMatchObject({ reason: 'exited', exit_code: 0 });
  });

  it('warden suspended (SIGTSTP) gives the terminal back as it was; continued, it takes it again and the command redraws', async () => {
    const code = `
import os, signal, sys
signal.signal(signal.SIGWINCH, lambda *_: os.write(1, b'REDRAW\\r\\n'))
os.write(1, b'${TUI_ON}READY\\r\\n')
print('LINE', sys.stdin.readline().strip(), flush=True)
`;
    const run = start(['--', PY, '-c', code]);
    await run.session.waitFor('READY');
    expect((await run.session.termios()).icanon).toBe(false);
    const before = run.session.output.length;
    run.session.kill(20); // SIGTSTP
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await expectCooked(run);
    expect(run.session.output.slice(before)).toContain('\x1b[?1049l');
    const stopped = run.session.output.length;
    run.session.kill(18); // SIGCONT
    await run.session.waitFor('REDRAW', 10_000, stopped);
    expect(await run.session.termios()).toMatchObject({ icanon: false, echo: false, isig: false, opost: false });
    expect(run.session.output.slice(stopped)).toContain('\x1b[?1049h');
    run.session.write('bye\r');
    const { exit } = await run.done;
    expect(run.session.text).toContain('LINE bye');
    expect(exit.code).toBe(0);
    await expectCooked(run);
  });

  it('the terminal is restored when the command is killed', async () => {
    const code = `
import os, time
os.write(1, b'${TUI_ON}\\x1b[?2004h\\x1b[>1u\\x1b[>4;2mREADY\\r\\n')
time.sleep(0.2)
os.kill(os.getpid(), 9)
`;
    const run = start(['--', PY, '-c', code]);
    const { exit, summary } = await run.done;
    expect(exit.code, run.session.text).toBe(137);
    expect(summary?.command_exit_code).toBe(137);
    const tail = run.session.output.slice(run.session.output.indexOf('READY'));
    for (const reset of ['\x1b[?1049l', '\x1b[?25h', '\x1b[?2004l', '\x1b[<1u', '\x1b[>4m'])
      expect(tail).toContain(reset);
    await expectCooked(run);
  });

  it('the terminal is restored when warden gets SIGTERM', async () => {
    const run = start(['--', PY, '-c', `import os, time\nos.write(1, b'${TUI_ON}READY\\r\\n')\ntime.sleep(60)`]);
    await run.session.waitFor('READY');
    run.session.kill(15);
    const { exit, summary } = await run.done;
    expect(summary?.reason).toBe('interrupted');
    expect(exit.code).toBe(143);
    expect(run.session.output).toContain('\x1b[?1049l');
    await expectCooked(run);
  });

  it('the terminal is restored when the timeout kills the sandbox', async () => {
    const run = start([
      '--timeout',
      '2s',
      '--',
      PY,
      '-c',
      `import os, time\nos.write(1, b'${TUI_ON}READY\\r\\n')\ntime.sleep(60)`,
    ]);
    const { exit, summary } = await run.done;
    expect(exit.code, run.session.text).toBe(124);
    expect(summary?.reason).toBe('timeout');
    expect(run.session.output).toContain('\x1b[?25h');
    await expectCooked(run);
  });

  it('the terminal is restored when warden itself fails (the audit log becomes unwritable mid-run)', async () => {
    workspace = makeWorkspace(mode);
    // A state dir of this test's own, owned by whoever warden runs as (chattr below needs root: the test is).
    const stateDir = mkdtempSync('/tmp/warden-term-state-');
    const owner = mode === 'user' ? userIds(TEST_USER) : null;
    if (owner !== null) chownSync(stateDir, owner.uid, owner.gid);
    const run = wardenInPty(
      mode,
      ['--', PY, '-c', `import os, sys\nos.write(1, b'${TUI_ON}READY\\r\\n')\nsys.stdin.readline()`],
      { cwd: workspace, env: { WARDEN_STATE_DIR: stateDir } },
    );
    runs.push(run);
    try {
      await run.session.waitFor('READY');
      for (const name of readdirSync(stateDir)) spawnSync('chattr', ['+i', join(stateDir, name)]);
      spawnSync('chattr', ['+i', stateDir]);
      run.session.write('\r');
      const { summary } = await run.done;
      expect(summary?.error ?? '').toMatch(/audit/i);
      expect(run.session.output).toContain('\x1b[?1049l');
      await expectCooked(run);
    } finally {
      spawnSync('chattr', ['-i', stateDir]);
      for (const name of readdirSync(stateDir)) spawnSync('chattr', ['-i', join(stateDir, name)]);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
