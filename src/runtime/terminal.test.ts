import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  chooseStdio,
  countCtrlC,
  InterruptWatch,
  TerminalModes,
  terminalName,
  type StreamInfo,
  type StreamKind,
} from './terminal.js';

const stream = (kind: StreamKind, id: string = kind): StreamInfo => ({ kind, id });
const choose = (stdin: StreamInfo, stdout: StreamInfo, stderr: StreamInfo, ptySupported = true) =>
  chooseStdio({ stdin, stdout, stderr, ptySupported, size: { rows: 30, cols: 100 }, term: 'xterm' });

describe('chooseStdio', () => {
  it('gives a pty when stdin and stdout are terminals, with stderr on it when it is the same terminal', () => {
    const tty = stream('tty', '5:3');
    expect(choose(tty, tty, tty)).toEqual({
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'stdout',
      pty: { rows: 30, cols: 100, term: 'xterm' },
    });
  });

  it('relays a stderr redirected to a file beside a pty, and passes a stderr pipe as it is', () => {
    const tty = stream('tty', '5:3');
    expect(choose(tty, tty, stream('file')).stderr).toBe('pipe');
    expect(choose(tty, tty, stream('pipe')).stderr).toBe('inherit');
  });

  it('SBX-23 passes only pipes and /dev/null as they are; files, sockets, devices and a lone terminal are relayed', () => {
    expect(choose(stream('pipe', 'a'), stream('pipe', 'b'), stream('null'))).toMatchObject({
      stdin: 'inherit',
      stdout: 'inherit',
      stderr: 'inherit',
      pty: null,
    });
    for (const kind of ['file', 'socket', 'device', 'other', 'tty'] as const) {
      const chosen = choose(stream('null', 'n'), stream(kind, 'o'), stream(kind, 'e'));
      expect(chosen, kind).toMatchObject({ stdout: 'pipe', stderr: 'pipe', pty: null });
      expect(choose(stream(kind, 'i'), stream('pipe', 'p'), stream('pipe', 'p')).stdin, kind).toBe('pipe');
    }
  });

  it('relays stdout and stderr through one pipe when they are the same file (keeps their order)', () => {
    const log = stream('file', '8:12');
    expect(choose(stream('null'), log, log)).toMatchObject({ stdout: 'pipe', stderr: 'stdout' });
    const tty = stream('tty', '5:3');
    expect(choose(stream('pipe'), tty, tty)).toMatchObject({ stdout: 'pipe', stderr: 'stdout', pty: null });
  });

  it('gives no pty without warden-init; the terminal is then relayed', () => {
    const tty = stream('tty', '5:3');
    expect(choose(tty, tty, tty, false)).toEqual({ stdin: 'pipe', stdout: 'pipe', stderr: 'stdout', pty: null });
  });
});

describe('terminalName', () => {
  it("takes the user's TERM when it is a plain name, else xterm-256color", () => {
    expect(terminalName({ TERM: 'screen-256color' })).toBe('screen-256color');
    expect(terminalName({})).toBe('xterm-256color');
    expect(terminalName({ TERM: 'x\nLD_PRELOAD=/tmp/x' })).toBe('xterm-256color');
    expect(terminalName({ TERM: 'a'.repeat(65) })).toBe('xterm-256color');
  });
});

describe('countCtrlC', () => {
  it('counts 0x03 and the keyboard-protocol encodings of Ctrl-C', () => {
    expect(countCtrlC(Buffer.from('abc'))).toBe(0);
    expect(countCtrlC(Buffer.from('\x03'))).toBe(1);
    expect(countCtrlC(Buffer.from('x\x03y\x03'))).toBe(2);
    expect(countCtrlC(Buffer.from('\x1b[99;5u'))).toBe(1);
    expect(countCtrlC(Buffer.from('\x1b[99;5:1u'))).toBe(1);
    expect(countCtrlC(Buffer.from('\x1b[27;5;99~'))).toBe(1);
    // Ctrl-Shift-C, or a release event, is not Ctrl-C.
    expect(countCtrlC(Buffer.from('\x1b[99;6u\x1b[99;5:3u'))).toBe(0);
  });
});

describe('InterruptWatch', () => {
  afterEach(() => vi.useRealTimers());

  it('stops after the grace when a second Ctrl-C comes within the repeat window', () => {
    vi.useFakeTimers();
    let now = 0;
    const stop = vi.fn();
    const watch = new InterruptWatch(stop, 2000, 5000, () => now);
    watch.typed(Buffer.from('\x03'));
    now = 1500;
    watch.typed(Buffer.from('\x03'));
    expect(watch.armed).toBe(true);
    vi.advanceTimersByTime(4999);
    expect(stop).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('never stops on one Ctrl-C, on presses further apart than the window, or after dispose', () => {
    vi.useFakeTimers();
    let now = 0;
    const stop = vi.fn();
    const watch = new InterruptWatch(stop, 2000, 5000, () => now);
    watch.typed(Buffer.from('\x03'));
    now = 2001;
    watch.typed(Buffer.from('\x03'));
    now = 2500;
    watch.typed(Buffer.from('hello'));
    vi.advanceTimersByTime(60_000);
    expect(stop).not.toHaveBeenCalled();
    now = 3000;
    watch.typed(Buffer.from('\x03'));
    expect(watch.armed).toBe(true);
    watch.dispose();
    vi.advanceTimersByTime(60_000);
    expect(stop).not.toHaveBeenCalled();
  });

  it('arms once for a burst of presses', () => {
    vi.useFakeTimers();
    const stop = vi.fn();
    const watch = new InterruptWatch(stop, 2000, 5000, () => 0);
    watch.typed(Buffer.from('\x03\x03\x03\x03'));
    vi.advanceTimersByTime(5000);
    expect(stop).toHaveBeenCalledTimes(1);
  });
});

describe('TerminalModes', () => {
  const restoreAfter = (...chunks: string[]): string => {
    const modes = new TerminalModes();
    for (const chunk of chunks) modes.feed(Buffer.from(chunk, 'latin1'));
    return modes.restoreSequence();
  };

  it('needs nothing when the output switched nothing on, or switched it off again', () => {
    expect(restoreAfter('plain text\r\n', '\x1b[31mred\x1b[0m')).toBe('');
    expect(restoreAfter('\x1b[?1049h\x1b[?25l', 'ui', '\x1b[?25h\x1b[?1049l')).toBe('');
    expect(restoreAfter('\x1b[>1u\x1b[<u\x1b[>4;2m\x1b[>4m')).toBe('');
  });

  it('switches off what a killed TUI left on: alternate screen, hidden cursor, mouse, paste, keyboard protocols', () => {
    const sequence = restoreAfter('\x1b[?1049h\x1b[?25l\x1b[?1000;1006h\x1b[?2004h\x1b[>1u\x1b[>3u\x1b[>4;2m');
    for (const reset of [
      '\x1b[?1049l',
      '\x1b[?25h',
      '\x1b[?1000l',
      '\x1b[?1006l',
      '\x1b[?2004l',
      '\x1b[<2u',
      '\x1b[>4m',
    ])
      expect(sequence).toContain(reset);
    expect(sequence.startsWith('\x1b[0m')).toBe(true);
  });

  it('follows a sequence cut between two chunks', () => {
    expect(restoreAfter('text\x1b[?10', '49h more')).toContain('\x1b[?1049l');
    expect(restoreAfter('\x1b', '[?25l')).toContain('\x1b[?25h');
  });

  it('switches back on, after a suspend, exactly what it switched off', () => {
    const modes = new TerminalModes();
    modes.feed(Buffer.from('\x1b[?1049h\x1b[?25l\x1b[>1u\x1b[>5u\x1b[<u\x1b[>4;2m', 'latin1'));
    expect(modes.reapplySequence()).toBe('\x1b[?1049h\x1b[?25l\x1b[>1u\x1b[>4;2m');
    expect(modes.restoreSequence()).toBe('\x1b[0m\x1b[?1049l\x1b[?25h\x1b[<1u\x1b[>4m');
    expect(new TerminalModes().reapplySequence()).toBe('');
  });

  it('ignores modes it does not know and private sequences that are not mode switches', () => {
    expect(restoreAfter('\x1b[?12345h\x1b[?1049$p\x1b[>0q')).toBe('');
  });
});
