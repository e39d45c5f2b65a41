/**
 * Drives a program on a real pty, the way a user's terminal does (test/helpers/pty-driver.py,
 * Python's standard library; no package that downloads binaries). `wardenInPty` runs the built
 * warden CLI as root or as the ordinary test user with the pty as its controlling terminal.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, TEST_USER, testStateDir, userIds, wardenBin, type Mode, type RunSummaryJson } from './warden.js';

const DRIVER = join(REPO, 'test', 'helpers', 'pty-driver.py');

export interface PtyExit {
  readonly code: number | null;
  readonly signal: number | null;
}

export interface TermiosFlags {
  readonly icanon: boolean;
  readonly echo: boolean;
  readonly isig: boolean;
  readonly icrnl: boolean;
  readonly opost: boolean;
}

export interface PtyOptions {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Run as this user (the slave is given to them); default: the test's own (root). */
  readonly user?: { readonly uid: number; readonly gid: number } | null;
  readonly rows?: number;
  readonly cols?: number;
  /** Append the program's stdout / stderr to this file instead of the terminal. */
  readonly stdoutFile?: string;
  readonly stderrFile?: string;
  /** stdin from /dev/null instead of the terminal. */
  readonly stdinNull?: boolean;
}

/** Strips escape sequences and carriage returns, for matching what a user would read. */
export function screenText(raw: string): string {
  return (
    raw
      // Cursor moves within a line stand for the blanks a TUI skipped over.
      .replace(/\x1b\[\d*[CG]/g, ' ')
      .replace(/\x1b\[[0-9;?<>=:]*[ -/]*[@-~]/g, '')
      .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
      .replace(/\x1b[()][A-Za-z0-9]/g, '')
      .replace(/\x1b[=>78cDEHMNOZ\\]/g, '')
      .replace(/\r/g, '')
  );
}

/** One program on one pty. */
export class PtySession {
  /** Everything the program wrote to the terminal so far (latin1-decoded bytes). */
  output = '';
  /** The slave's path and device numbers (known once the driver started). */
  tty: { readonly path: string; readonly dev: number; readonly rdev: number } | null = null;
  readonly exited: Promise<PtyExit>;
  readonly #child;
  readonly #waiters: (() => void)[] = [];
  readonly #replies: ((value: Record<string, unknown>) => void)[] = [];
  #exit: PtyExit | null = null;
  #driverErrors = '';

  constructor(options: PtyOptions) {
    const spec = {
      argv: options.argv,
      env: options.env,
      cwd: options.cwd,
      uid: options.user?.uid ?? null,
      gid: options.user?.gid ?? null,
      rows: options.rows ?? 30,
      cols: options.cols ?? 100,
      ...(options.stdoutFile === undefined ? {} : { stdout: options.stdoutFile }),
      ...(options.stderrFile === undefined ? {} : { stderr: options.stderrFile }),
      ...(options.stdinNull === true ? { stdin: 'null' } : {}),
    };
    this.#child = spawn('/usr/bin/python3', [DRIVER, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let pending = '';
    let resolveExit: (exit: PtyExit) => void = () => undefined;
    this.exited = new Promise((resolve) => (resolveExit = resolve));
    this.#child.stderr.setEncoding('utf8').on('data', (d: string) => (this.#driverErrors += d));
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const message = JSON.parse(pending.slice(0, newline)) as Record<string, unknown>;
        pending = pending.slice(newline + 1);
        if (typeof message.out === 'string') {
          this.output += Buffer.from(message.out, 'base64').toString('latin1');
          for (const wake of this.#waiters.splice(0)) wake();
        } else if (typeof message.tty === 'string') {
          this.tty = { path: message.tty, dev: Number(message.dev), rdev: Number(message.rdev) };
        } else if ('exit' in message) {
          this.#exit = { code: message.exit as number | null, signal: message.signal as number | null };
          resolveExit(this.#exit);
          for (const wake of this.#waiters.splice(0)) wake();
        } else {
          this.#replies.shift()?.(message);
        }
      }
    });
    this.#child.on('close', () => {
      if (this.#exit === null) resolveExit({ code: null, signal: null });
    });
  }

  /** The output as a user reads it (no escape sequences). */
  get text(): string {
    return screenText(Buffer.from(this.output, 'latin1').toString('utf8'));
  }

  /** Types bytes (a string is sent as UTF-8). */
  write(data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.#send({ write: bytes.toString('base64') });
  }

  /** Resizes the terminal (the kernel sends SIGWINCH to its foreground process group). */
  resize(rows: number, cols: number): void {
    this.#send({ resize: [rows, cols] });
  }

  /** Sends a signal to the program itself (not through the terminal). */
  kill(signal: number): void {
    this.#send({ signal });
  }

  /** Waits until the user-visible text matches, or fails with what was on screen. */
  async waitFor(pattern: RegExp | string, timeoutMs = 20_000, since = 0): Promise<void> {
    const matches = (): boolean => {
      const text = screenText(Buffer.from(this.output.slice(since), 'latin1').toString('utf8'));
      return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    };
    const deadline = Date.now() + timeoutMs;
    while (!matches()) {
      const left = deadline - Date.now();
      if (left <= 0 || (this.#exit !== null && !matches()))
        throw new Error(
          `pty: ${String(pattern)} not seen${this.#exit === null ? '' : ` (program exited ${JSON.stringify(this.#exit)})`}; screen:\n${this.text.slice(-3000)}\n${this.#driverErrors}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The terminal's settings now (from the driver's own descriptor of the slave). */
  termios(): Promise<TermiosFlags> {
    return this.#ask({ termios: true }).then((reply) => reply.termios as TermiosFlags);
  }

  /** Input queued in the terminal that no process read (call after the program exited). */
  pending(): Promise<string> {
    return this.#ask({ pending: true }).then((reply) =>
      Buffer.from(String(reply.pending), 'base64').toString('latin1'),
    );
  }

  /** Waits for the exit (killing the program after `timeoutMs`). */
  async waitExit(timeoutMs = 30_000): Promise<PtyExit> {
    let timer: NodeJS.Timeout | null = null;
    const timeout = new Promise<PtyExit>((resolve) => {
      timer = setTimeout(() => {
        this.kill(9);
        resolve({ code: null, signal: 9 });
      }, timeoutMs);
    });
    const exit = await Promise.race([this.exited, timeout]);
    if (timer !== null) clearTimeout(timer);
    return exit;
  }

  /** Ends the driver (after the program exited, or kills the program). */
  close(): void {
    if (this.#exit === null) this.kill(9);
    this.#child.stdin.end();
    setTimeout(() => this.#child.kill('SIGKILL'), 5000).unref();
  }

  #send(message: Record<string, unknown>): void {
    this.#child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  #ask(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.#send(message);
    });
  }
}

export interface PtyRun {
  readonly session: PtySession;
  /** Resolves at exit with the run summary (from --json FILE). */
  readonly done: Promise<{ exit: PtyExit; summary: RunSummaryJson | null }>;
}

/**
 * `warden run --json FILE ARGS...` (as `mode`) on a fresh pty of `rows`x`cols`, in `cwd`.
 * `env` adds to warden's own small environment (TERM is xterm-256color unless given).
 */
export function wardenInPty(
  mode: Mode,
  args: readonly string[],
  options: {
    readonly cwd: string;
    readonly env?: Readonly<Record<string, string>>;
    readonly rows?: number;
    readonly cols?: number;
    readonly stdoutFile?: string;
    readonly stderrFile?: string;
    readonly stdinNull?: boolean;
  },
): PtyRun {
  const user = mode === 'user' ? userIds(TEST_USER) : null;
  if (mode === 'user' && user === null) throw new Error(`test user ${TEST_USER} missing`);
  const dir = mkdtempSync('/tmp/warden-summary-');
  chmodSync(dir, 0o777);
  const summaryFile = join(dir, 'summary.json');
  const session = new PtySession({
    argv: [process.execPath, wardenBin(mode), 'run', '--json', summaryFile, ...args],
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: user?.home ?? '/root',
      LANG: 'C.UTF-8',
      TERM: 'xterm-256color',
      WARDEN_STATE_DIR: testStateDir(mode),
      ...(options.env ?? {}),
    },
    cwd: options.cwd,
    user,
    ...(options.rows === undefined ? {} : { rows: options.rows }),
    ...(options.cols === undefined ? {} : { cols: options.cols }),
    ...(options.stdoutFile === undefined ? {} : { stdoutFile: options.stdoutFile }),
    ...(options.stderrFile === undefined ? {} : { stderrFile: options.stderrFile }),
    ...(options.stdinNull === undefined ? {} : { stdinNull: options.stdinNull }),
  });
  const done = session.waitExit(60_000).then((exit) => {
    const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummaryJson) : null;
    rmSync(dir, { recursive: true, force: true });
    return { exit, summary };
  });
  return { session, done };
}
