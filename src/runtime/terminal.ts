/**
 * The run command's side of the command's terminal and standard streams.
 *
 * Warden never hands the sandbox a descriptor the command could reopen through /proc/self/fd to
 * reach something of the host's (SBX-23): only pipes and /dev/null pass as they are. A regular
 * file, a socket, a terminal or any other device is relayed through a pipe instead. When warden's
 * stdin and stdout are both terminals the command gets a terminal of the sandbox's own (a pty the
 * in-sandbox init opens, see warden-init.c): warden puts the user's terminal in raw mode and
 * relays bytes, so keystrokes, Ctrl-C (the byte 0x03, turned into SIGINT by the sandbox's own line
 * discipline), window sizes and job control work inside while the host terminal never enters.
 *
 * Ctrl-C always goes to the command. Interactive agents exit on a second Ctrl-C themselves; if
 * the command is still running INTERRUPT_GRACE_MS after a second Ctrl-C typed within
 * CTRL_C_REPEAT_MS of the one before, warden stops the sandbox (reason `interrupted`, exit 130).
 * The terminal is restored (cooked mode, and whatever modes the command switched on and did not
 * switch off: alternate screen, hidden cursor, mouse reporting, bracketed paste, keyboard
 * protocols) on every exit path: close(), and the process's 'exit' as a last resort; also while
 * warden is suspended (SIGTSTP), and taken back when it continues (SIGCONT).
 */
import { spawnSync } from 'node:child_process';
import { fstatSync, readFileSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import type { StdioSpec, StreamMode, TerminalSize } from '../sandbox/index.js';

/** A second Ctrl-C within this long of the previous one asks to stop the run. */
export const CTRL_C_REPEAT_MS = 2000;
/** How long the command then has to exit by itself before warden stops the sandbox. */
export const INTERRUPT_GRACE_MS = 5000;

/** What one of warden's standard descriptors is, as far as handing it to the sandbox goes. */
export type StreamKind = 'pipe' | 'null' | 'tty' | 'file' | 'socket' | 'device' | 'other';

export interface StreamInfo {
  readonly kind: StreamKind;
  /** Identity of the open file (device and inode), to see that stdout and stderr are one. */
  readonly id: string;
}

/** /dev/null's device number (major 1, minor 3): the one device that gives nothing away. */
const DEV_NULL_RDEV = (1 << 8) | 3;

/** Looks at descriptor `fd` (0, 1 or 2). */
export function inspectStream(fd: number): StreamInfo {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    // Node opens /dev/null over a closed 0-2 at start-up, so this is a descriptor it cannot stat.
    return { kind: 'other', id: `fd${fd}` };
  }
  const id = `${st.dev}:${st.ino}`;
  if (st.isFIFO()) return { kind: 'pipe', id };
  if (st.isCharacterDevice()) {
    if (st.rdev === DEV_NULL_RDEV) return { kind: 'null', id };
    return { kind: isatty(fd) ? 'tty' : 'device', id };
  }
  if (st.isFile()) return { kind: 'file', id };
  if (st.isSocket()) return { kind: 'socket', id };
  return { kind: 'other', id };
}

/** Whether a stream may be handed to the sandbox as it is: nothing to reopen behind a pipe or /dev/null. */
function passable(stream: StreamInfo): boolean {
  return stream.kind === 'pipe' || stream.kind === 'null';
}

export interface StdioChoice {
  readonly stdin: StreamInfo;
  readonly stdout: StreamInfo;
  readonly stderr: StreamInfo;
  /** Whether the init can open a pty (warden-init is built). */
  readonly ptySupported: boolean;
  /** The user's terminal size and TERM, for the pty. */
  readonly size: TerminalSize;
  readonly term: string;
}

/**
 * Chooses the command's stdio: a pty when stdin and stdout are terminals (and the init can open
 * one), otherwise each stream as it is when it is a pipe or /dev/null, else relayed through a pipe.
 */
export function chooseStdio(choice: StdioChoice): StdioSpec {
  const { stdin, stdout, stderr } = choice;
  const pty = choice.ptySupported && stdin.kind === 'tty' && stdout.kind === 'tty';
  const mode = (stream: StreamInfo): StreamMode => (!pty && passable(stream) ? 'inherit' : 'pipe');
  const stdoutMode = mode(stdout);
  let stderrMode: StdioSpec['stderr'] = passable(stderr) ? 'inherit' : 'pipe';
  // Going to the same place (the terminal, `>> log 2>&1`): one stream keeps their order.
  if (stderr.id === stdout.id && stdoutMode === 'pipe' && !passable(stderr)) stderrMode = 'stdout';
  return {
    stdin: mode(stdin),
    stdout: stdoutMode,
    stderr: stderrMode,
    pty: pty ? { rows: choice.size.rows, cols: choice.size.cols, term: choice.term } : null,
  };
}

/** The TERM the sandbox's pty gets: the user's, when it is a plain terminal name. */
export function terminalName(env: NodeJS.ProcessEnv): string {
  const term = env.TERM;
  return term !== undefined && /^[A-Za-z0-9._+-]{1,64}$/.test(term) ? term : 'xterm-256color';
}

/**
 * Counts Ctrl-C key presses in what the user typed: the byte 0x03, and its encodings under the
 * keyboard protocols a TUI may switch on (kitty's `CSI 99;5u`, xterm's modifyOtherKeys
 * `CSI 27;5;99~`), with which the terminal no longer sends 0x03.
 */
export function countCtrlC(typed: Buffer): number {
  let count = 0;
  for (const byte of typed) if (byte === 0x03) count++;
  if (typed.includes(0x1b)) {
    const text = typed.toString('latin1');
    count += (text.match(/\x1b\[99;5(?::[1-2])?u|\x1b\[27;5;99~/g) ?? []).length;
  }
  return count;
}

/**
 * Watches for "Ctrl-C, and again": after a second Ctrl-C within `repeatMs` of the one before, the
 * command gets `graceMs` to exit by itself, then `stop` runs. Ctrl-C itself always reaches the
 * command; this only decides when warden steps in.
 */
export class InterruptWatch {
  #last: number | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stop: () => void,
    private readonly repeatMs = CTRL_C_REPEAT_MS,
    private readonly graceMs = INTERRUPT_GRACE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the stop is armed (a second Ctrl-C came in time). */
  get armed(): boolean {
    return this.#timer !== null;
  }

  /** Feeds what the user typed. */
  typed(chunk: Buffer): void {
    for (let presses = countCtrlC(chunk); presses > 0; presses--) {
      const at = this.now();
      if (this.#last !== null && at - this.#last <= this.repeatMs && this.#timer === null)
        this.#timer = setTimeout(this.stop, this.graceMs);
      this.#last = at;
    }
  }

  dispose(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Private modes a TUI switches on, keyed by number, with the state a plain terminal has. */
const MODE_DEFAULTS: ReadonlyMap<number, boolean> = new Map([
  [1, false], // application cursor keys
  [25, true], // cursor visible
  [47, false], // alternate screen (old forms, and the common one below)
  [1047, false],
  [1049, false],
  [1000, false], // mouse reporting, its variants and encodings
  [1002, false],
  [1003, false],
  [1005, false],
  [1006, false],
  [1015, false],
  [1004, false], // focus events
  [2004, false], // bracketed paste
  [2026, false], // synchronized output
  [2031, false], // colour-scheme notifications
]);

/**
 * Follows the terminal modes the command's output switches, so what it leaves on when it is
 * killed can be switched off again: private modes (`CSI ? N h/l`), the kitty keyboard protocol's
 * stack (`CSI > f u` pushes, `CSI < n u` pops) and xterm's modifyOtherKeys (`CSI > 4 ; n m`).
 */
export class TerminalModes {
  readonly #modes = new Map<number, boolean>();
  /** Flags of each kitty keyboard level pushed and not popped. */
  readonly #kitty: number[] = [];
  /** modifyOtherKeys level (0: off). */
  #modifyOtherKeys = 0;
  #carry = '';

  /** Feeds a chunk of the command's output. */
  feed(chunk: Buffer): void {
    if (!chunk.includes(0x1b) && this.#carry === '') return;
    const text = this.#carry + chunk.toString('latin1');
    this.#carry = '';
    const pattern = /\x1b\[([?<>=])([\d;:]*)([a-zA-Z~])/g;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(text)) !== null) {
      const [, lead, params = '', final] = match;
      const numbers = params.split(';').map((p) => (p === '' ? NaN : Number(p.split(':')[0])));
      if (lead === '?' && (final === 'h' || final === 'l')) {
        for (const n of numbers) if (MODE_DEFAULTS.has(n)) this.#modes.set(n, final === 'h');
      } else if (final === 'u' && lead === '>') {
        // A bounded stack: a program that only pushes cannot grow it without end.
        if (this.#kitty.length < 64) this.#kitty.push(Number.isNaN(numbers[0]) ? 0 : (numbers[0] ?? 0));
      } else if (final === 'u' && lead === '<') {
        const pops = Number.isNaN(numbers[0]) ? 1 : (numbers[0] ?? 1);
        this.#kitty.splice(Math.max(0, this.#kitty.length - pops));
      } else if (final === 'm' && lead === '>' && numbers[0] === 4) {
        const level = numbers[1];
        this.#modifyOtherKeys = level === undefined || Number.isNaN(level) ? 0 : level;
      }
    }
    // An escape sequence cut at the chunk's end is completed by the next chunk.
    const lastEscape = text.lastIndexOf('\x1b');
    if (
      lastEscape >= 0 &&
      text.length - lastEscape < 32 &&
      !/^\x1b\[[?<>=][\d;:]*[a-zA-Z~]/.test(text.slice(lastEscape))
    )
      this.#carry = text.slice(lastEscape);
  }

  /** The bytes that put every followed mode back to a plain terminal's state ('' when nothing is off). */
  restoreSequence(): string {
    let out = '';
    for (const [mode, on] of this.#modes) {
      if (on === MODE_DEFAULTS.get(mode)) continue;
      out += `\x1b[?${mode}${on ? 'l' : 'h'}`;
    }
    if (this.#kitty.length > 0) out += `\x1b[<${this.#kitty.length}u`;
    if (this.#modifyOtherKeys > 0) out += '\x1b[>4m';
    return out === '' ? '' : `\x1b[0m${out}`;
  }

  /** The bytes that switch back on what restoreSequence() switched off (after a suspend). */
  reapplySequence(): string {
    let out = '';
    for (const [mode, on] of this.#modes) {
      if (on === MODE_DEFAULTS.get(mode)) continue;
      out += `\x1b[?${mode}${on ? 'h' : 'l'}`;
    }
    for (const flags of this.#kitty) out += `\x1b[>${flags}u`;
    if (this.#modifyOtherKeys > 0) out += `\x1b[>4;${this.#modifyOtherKeys}m`;
    return out;
  }
}

/**
 * Switches off output processing on warden's terminal (`stty -opost`): Node's raw mode keeps it,
 * so a newline would become CR LF twice, once in the sandbox's pty (as its program set it up) and
 * again here, which breaks a TUI that moves the cursor down with a bare LF. Node has no tcsetattr;
 * leaving raw mode (setRawMode(false)) restores the settings from before, OPOST included.
 */
function rawOutput(): void {
  spawnSync('/bin/stty', ['-opost'], { stdio: [0, 'ignore', 'ignore'], timeout: 5000 });
}

/** Whether this process is in its terminal's foreground process group (from /proc/self/stat). */
export function inForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces): state ppid pgrp session tty_nr tpgid.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    return true;
  }
}

/** The streams of a started run, and what warden may do to it (see runAgent's onStarted). */
export interface AttachedRun {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  resize(size: TerminalSize): void;
  /** Asks the command to redraw its screen (SIGWINCH at the same size). */
  redraw(): void;
  /** Stops the run because the user asked for it from the terminal. */
  interrupt(): void;
}

/** The process streams a RunTerminal works with (process.stdin/stdout/stderr; tests pass others). */
export interface TerminalStreams {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

/**
 * Connects a run's streams to warden's own: chooses the stdio (open), relays once the sandbox runs
 * (attach), and puts everything back (close).
 */
export class RunTerminal {
  readonly stdio: StdioSpec;
  readonly #streams: TerminalStreams;
  readonly #stdinKind: StreamKind;
  #modes: TerminalModes | null = null;
  #watch: InterruptWatch | null = null;
  #raw = false;
  #closed = false;
  readonly #undo: (() => void)[] = [];
  readonly #onExit = (): void => this.#restore();

  private constructor(streams: TerminalStreams, stdio: StdioSpec, stdinKind: StreamKind) {
    this.#streams = streams;
    this.stdio = stdio;
    this.#stdinKind = stdinKind;
  }

  /** Looks at descriptors 0-2 and chooses the command's stdio. Nothing changes until attach. */
  static open(options: {
    readonly ptySupported: boolean;
    readonly env: NodeJS.ProcessEnv;
    readonly streams?: TerminalStreams;
  }): RunTerminal {
    const streams = options.streams ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
    const [stdin, stdout, stderr] = [0, 1, 2].map(inspectStream) as [StreamInfo, StreamInfo, StreamInfo];
    const stdio = chooseStdio({
      stdin,
      stdout,
      stderr,
      ptySupported: options.ptySupported,
      size: { rows: streams.stdout.rows || 24, cols: streams.stdout.columns || 80 },
      term: terminalName(options.env),
    });
    return new RunTerminal(streams, stdio, stdin.kind);
  }

  /** Whether the command runs on a pty of its own. */
  get usesPty(): boolean {
    return this.stdio.pty !== null;
  }

  /** Starts relaying; with a pty, the user's terminal goes into raw mode until close(). */
  attach(run: AttachedRun): void {
    if (this.#closed) return;
    const { stdout, stderr } = this.#streams;
    if (run.stdout !== null) this.#relayOutput(run.stdout, stdout);
    if (run.stderr !== null) this.#relayOutput(run.stderr, stderr);
    if (this.stdio.pty !== null) {
      this.#modes = new TerminalModes();
      const modes = this.#modes;
      run.stdout?.on('data', (chunk: Buffer) => modes.feed(chunk));
      process.once('exit', this.#onExit);
      this.#undo.push(() => process.off('exit', this.#onExit));
      this.#enterRaw();
      this.#watch = new InterruptWatch(() => run.interrupt());
      const onResize = (): void => run.resize({ rows: stdout.rows || 24, cols: stdout.columns || 80 });
      stdout.on('resize', onResize);
      this.#undo.push(() => stdout.off('resize', onResize));
      // A resize between choosing the size and now would otherwise go unnoticed.
      onResize();
      // Suspended (`kill -TSTP`; Ctrl-Z itself goes to the command): give the user's shell its
      // terminal back as it was, then stop. Continued (`fg`, or SIGCONT after any stop, when the
      // shell may have reset the terminal): raw again, the command's modes back, a redraw.
      const onSuspend = (): void => {
        this.#restore();
        process.kill(process.pid, 'SIGSTOP');
      };
      const onContinue = (): void => {
        if (this.#closed) return;
        this.#enterRaw();
        const sequence = modes.reapplySequence();
        try {
          if (sequence !== '') writeSync(1, sequence);
        } catch {
          // the terminal is gone
        }
        onResize();
        run.redraw();
      };
      process.on('SIGTSTP', onSuspend);
      process.on('SIGCONT', onContinue);
      this.#undo.push(() => {
        process.off('SIGTSTP', onSuspend);
        process.off('SIGCONT', onContinue);
      });
    }
    if (run.stdin !== null) this.#relayInput(run.stdin);
  }

  /** Stops relaying input and restores the terminal. Idempotent; output still drains. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.dispose();
    for (const undo of this.#undo.splice(0).reverse()) undo();
    this.#restore();
  }

  /** Raw mode on warden's terminal (again: after a stop the shell may have changed it behind Node's back). */
  #enterRaw(): void {
    const stdin = this.#streams.stdin;
    if (this.#raw) stdin.setRawMode(false);
    stdin.setRawMode(true);
    this.#raw = true;
    rawOutput();
  }

  #restore(): void {
    if (!this.#raw) return;
    this.#raw = false;
    const sequence = this.#modes?.restoreSequence() ?? '';
    try {
      if (sequence !== '') writeSync(1, sequence);
    } catch {
      // the terminal is gone
    }
    try {
      this.#streams.stdin.setRawMode(false);
    } catch {
      // the terminal is gone
    }
  }

  #relayOutput(from: Readable, to: Writable): void {
    // A destination that fails (a closed socket, a hung-up terminal) ends the relay; the command
    // then gets EPIPE like any writer to a closed pipe, and warden carries on.
    const onError = (): void => {
      from.unpipe(to);
      from.destroy();
    };
    to.on('error', onError);
    from.on('error', () => undefined);
    from.pipe(to, { end: false });
    from.once('close', () => to.off('error', onError));
  }

  #relayInput(to: Writable): void {
    const stdin = this.#streams.stdin;
    to.on('error', () => undefined); // the command closed its stdin: what is typed later is dropped
    // A background job must not read the terminal (the kernel would stop warden with SIGTTIN):
    // its command gets an empty stdin, as a non-interactive shell gives background jobs.
    if (this.#stdinKind === 'tty' && this.stdio.pty === null && !inForeground()) {
      to.end();
      return;
    }
    const watch = this.#watch;
    const onData = (chunk: Buffer): void => {
      watch?.typed(chunk);
      if (!to.write(chunk)) {
        stdin.pause();
        to.once('drain', () => {
          if (!this.#closed) stdin.resume();
        });
      }
    };
    const onEnd = (): void => {
      to.end();
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.on('error', onEnd);
    stdin.resume();
    this.#undo.push(() => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onEnd);
      stdin.pause();
      // A file, socket or device stdin keeps the process alive while it is read: let it go.
      if (this.#stdinKind !== 'tty') stdin.destroy();
    });
  }
}
