/**
 * A bounded, misbehaviour-tolerant MCP transport over a child process's stdin/stdout (GW-06).
 *
 * The SDK's own stdio transport buffers an unfinished line without limit and throws on a line
 * that is not a JSON-RPC message. An upstream server is untrusted code in a sandbox, so here:
 *   - one line never holds more than `maxLineBytes` (+ two 512-byte edges) in memory, whatever
 *     the child writes, e.g. 1 GiB without a newline;
 *   - an oversized response is discarded, but its `id` is recovered from the line's first and
 *     last bytes so the pending request fails at once with {@link OVERSIZED_RESULT_CODE} instead
 *     of hanging until its timeout;
 *   - a line that is not JSON, or not JSON-RPC, is reported and skipped, never thrown;
 *   - writing to a child that has died (EPIPE) closes the transport instead of crashing the
 *     gateway with an uncaught 'error' event.
 */
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { JSONRPCErrorResponse, JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { RPC } from './errors.js';
import { LineFramer, type OversizedLine } from './line-framer.js';
import { coalesceWrites } from './coalesce-writes.js';

/** What kind of upstream output was rejected: unparsable, parsable but not JSON-RPC, or too long. */
export type LineProblemKind = 'not_json' | 'not_jsonrpc' | 'oversized';

/** A rejected line, as reported to {@link LineTransportOptions.onProtocolError}. */
export interface LineProblem {
  readonly kind: LineProblemKind;
  /** Safe to log: at most a 64-character preview with control characters escaped, or sizes. */
  readonly detail: string;
}

/** How to build a {@link LineTransport}. */
export interface LineTransportOptions {
  /** The child's stdout. */
  readonly input: Readable;
  /** The child's stdin. */
  readonly output: Writable;
  /** Longest accepted line: bytes before its '\n' (e.g. 8 MiB). Longer lines are discarded. */
  readonly maxLineBytes: number;
  /**
   * Called for each line that is not a JSON-RPC message, and for each oversized line (also when
   * its id was recovered and an error response synthesised). Should not throw; if it does, the
   * error goes to `onerror` and reading continues.
   */
  readonly onProtocolError?: (problem: LineProblem) => void;
}

/**
 * JSON-RPC error code of the response synthesised when an upstream response line is longer than
 * `maxLineBytes` (the registry's `tooLarge`).
 */
export const OVERSIZED_RESULT_CODE = RPC.tooLarge;

const PREVIEW_CHARS = 64;

/**
 * Newline-delimited JSON-RPC over a pair of streams, with bounded buffering.
 *
 * Lines are split on '\n' (a trailing '\r' is stripped); empty lines are ignored. Each line is
 * parsed and validated with the SDK's `JSONRPCMessageSchema` before `onmessage` sees it.
 */
export class LineTransport implements Transport {
  /** Called once when the transport closes, whatever the cause. */
  onclose?: Transport['onclose'];
  /** Called for a stream failure (just before `onclose`) or a callback that threw. */
  onerror?: Transport['onerror'];
  /** Called for each valid JSON-RPC message, and for the error synthesised for an oversized response. */
  onmessage?: Transport['onmessage'];
  /** Stdio has no sessions. */
  sessionId?: string | undefined;

  readonly #input: Readable;
  readonly #output: Writable;
  readonly #maxLineBytes: number;
  readonly #onProtocolError: ((problem: LineProblem) => void) | undefined;

  #started = false;
  #closed = false;

  /** Splits the child's stdout into bounded lines (the one framing rule, see line-framer.ts). */
  readonly #framer: LineFramer;

  /** `send()` calls waiting for the child to read what we already wrote. */
  readonly #drainWaiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();

  /**
   * @param options the streams, the line limit and the problem reporter
   * @throws RangeError when `maxLineBytes` is not a positive safe integer
   */
  constructor(options: LineTransportOptions) {
    if (!Number.isSafeInteger(options.maxLineBytes) || options.maxLineBytes <= 0) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${String(options.maxLineBytes)}`);
    }
    this.#input = options.input;
    this.#output = options.output;
    this.#maxLineBytes = options.maxLineBytes;
    this.#onProtocolError = options.onProtocolError;
    this.#framer = new LineFramer({
      maxLineBytes: options.maxLineBytes,
      onLine: (line) => this.#handleLine(line.toString('utf8')),
      onOversized: (line) => this.#handleOversized(line),
      // A child that dies mid-write leaves a last line without '\n': judge it like any other
      // line, so a truncated response is reported and a half-read oversized one still fails.
      partialLastLine: 'judge',
    });
    // Attached at once and never removed: an 'error' event without a listener is an uncaught
    // exception, and a dead child's pipes can error at any time, even after close().
    this.#output.on('error', (error: Error) => {
      this.#finish(new Error(`upstream stdin failed: ${error.message}`, { cause: error }));
    });
    this.#output.on('drain', () => {
      this.#settleDrainWaiters(undefined);
    });
    this.#input.on('error', (error: Error) => {
      this.#finish(new Error(`upstream stdout failed: ${error.message}`, { cause: error }));
    });
  }

  /**
   * Bytes allocated for the unfinished line (diagnostic, and the tests' hook for the memory
   * bound): at most `maxLineBytes`, or 2 × 512 while an oversized line is discarded.
   */
  get bufferedBytes(): number {
    return this.#framer.bufferedBytes;
  }

  /** Whether the transport has closed (by `close()`, end of input, or a stream error). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Begins reading the child's stdout. Install the callbacks first (the SDK's `connect` does).
   * @throws Error when called twice or after the transport has closed
   */
  start(): Promise<void> {
    if (this.#started) return Promise.reject(new Error('LineTransport already started'));
    if (this.#closed) return Promise.reject(new Error('LineTransport is closed'));
    this.#started = true;
    this.#input.on('data', (chunk: Buffer | string) => {
      // After close the stream keeps flowing into nothing (the framer is stopped): the child is
      // never blocked on a full pipe during its shutdown, and nothing more reaches the callbacks.
      this.#framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    });
    this.#input.on('end', () => {
      this.#framer.end();
      this.#finish(undefined);
    });
    // 'close' without 'end' means the stream was destroyed (the child's pipe torn down).
    this.#input.on('close', () => {
      this.#finish(undefined);
    });
    return Promise.resolve();
  }

  /**
   * Writes one message as a line to the child's stdin. Resolves when the stream accepted it, or
   * after 'drain' when the child is slow to read (backpressure).
   * @throws Error (as a rejection) when the transport is closed or the child's stdin failed
   */
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error('LineTransport is closed');
    const line = `${JSON.stringify(message)}\n`;
    coalesceWrites(this.#output);
    if (this.#output.write(line)) return;
    await new Promise<void>((resolve, reject) => {
      // Defensive: a Writable implementation may emit 'error' synchronously inside write().
      if (this.#closed) {
        reject(new Error('LineTransport is closed'));
        return;
      }
      this.#drainWaiters.add({ resolve, reject });
    });
  }

  /** Stops delivering messages, ends the child's stdin and calls `onclose` once. */
  close(): Promise<void> {
    this.#finish(undefined);
    return Promise.resolve();
  }

  /** The protocol version does not change line framing: nothing to do. */
  setProtocolVersion(_version: string): void {
    // Intentionally empty.
  }

  #handleOversized({ head, tail, bytes }: OversizedLine): void {
    const id = responseIdFromEdges(head.toString('utf8'), tail.toString('utf8'));
    const size = `a ${bytes}-byte line exceeds the ${this.#maxLineBytes}-byte limit`;
    if (id === undefined) {
      this.#report({ kind: 'oversized', detail: `${size}; no response id found, line discarded` });
      return;
    }
    this.#report({ kind: 'oversized', detail: `${size}; failing response id ${JSON.stringify(id)}` });
    if (this.#closed) return;
    const failure: JSONRPCErrorResponse = {
      jsonrpc: '2.0',
      id,
      error: { code: OVERSIZED_RESULT_CODE, message: `upstream result larger than ${this.#maxLineBytes} bytes` },
    };
    this.#deliver(failure);
  }

  #handleLine(line: string): void {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.#report({ kind: 'not_json', detail: preview(line) });
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      this.#report({ kind: 'not_jsonrpc', detail: preview(line) });
      return;
    }
    this.#deliver(parsed.data);
  }

  #deliver(message: JSONRPCMessage): void {
    try {
      this.onmessage?.(message);
    } catch (error) {
      // Thrown inside a stream 'data' handler it would be uncaught and kill the gateway.
      this.#reportError(error);
    }
  }

  #report(problem: LineProblem): void {
    if (this.#closed) return;
    try {
      this.#onProtocolError?.(problem);
    } catch (error) {
      this.#reportError(error);
    }
  }

  #reportError(error: unknown): void {
    if (this.#closed) return;
    try {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // onerror itself failed: nowhere left to report, and throwing would crash the stream.
    }
  }

  /** Closes once, whatever the cause: close(), end of input, or a stream error. */
  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#framer.stop();
    this.#settleDrainWaiters(error ?? new Error('LineTransport is closed'));
    if (!this.#output.writableEnded && !this.#output.destroyed) {
      try {
        this.#output.end();
      } catch {
        // A failed end surfaces as an 'error' event, which the permanent listener absorbs.
      }
    }
    try {
      if (error) this.onerror?.(error);
    } catch {
      // Reporting must not stop onclose from being called.
    }
    try {
      this.onclose?.();
    } catch {
      // Runs inside stream event handlers: a throw here would be uncaught.
    }
  }

  #settleDrainWaiters(error: Error | undefined): void {
    const waiters = [...this.#drainWaiters];
    this.#drainWaiters.clear();
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }
}

/** A log-safe preview: the first 64 characters, control and line-breaking characters escaped. */
function preview(line: string): string {
  // Two code units per code point at most, so this slice holds the first 64 code points.
  const chars = Array.from(line.slice(0, PREVIEW_CHARS * 2));
  const cut = chars.length > PREVIEW_CHARS || line.length > PREVIEW_CHARS * 2;
  // Escaped so a hostile server cannot forge log lines or drive the operator's terminal.
  const shown = chars
    .slice(0, PREVIEW_CHARS)
    .map((c) => (isUnsafeChar(c) ? `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}` : c));
  return cut ? `${shown.join('')}…` : shown.join('');
}

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators. */
function isUnsafeChar(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

// ---------------------------------------------------------------------------------------------
// Recovering the id of an oversized response from the first and last bytes of its line.
//
// Only top-level members count: a nested `"id"` inside the result must not be mistaken for the
// response's id. The head is scanned forwards from '{', the tail backwards from the final '}';
// each stops where its fragment is cut. JSON strings never contain a raw '"' (it is escaped as
// \"), so a quote preceded by an even number of backslashes is always a string delimiter, which
// makes the backward scan sound.
// ---------------------------------------------------------------------------------------------

interface EdgeScan {
  /** Top-level member names seen. */
  readonly keys: Set<string>;
  /** The top-level `id`, when it was seen whole and is a valid JSON-RPC request id. */
  id?: RequestId;
}

/**
 * The id of the response whose line starts with `head` and ends with `tail`, or undefined when
 * the line is not recognisably a response (it must have a top-level "result" or "error" member
 * and no "method") or its id is not readable in either edge.
 */
function responseIdFromEdges(head: string, tail: string): RequestId | undefined {
  const forward = scanHead(head);
  const backward = scanTail(tail);
  const keys = new Set([...forward.keys, ...backward.keys]);
  if (keys.has('method') || (!keys.has('result') && !keys.has('error'))) return undefined;
  // Both edges may see the id when the limit is small; if they disagree, trust neither.
  if (forward.id !== undefined && backward.id !== undefined && forward.id !== backward.id) return undefined;
  return forward.id ?? backward.id;
}

function isWhitespace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

function skipWs(text: string, i: number): number {
  while (isWhitespace(text[i])) i++;
  return i;
}

function skipWsBack(text: string, i: number): number {
  while (isWhitespace(text[i])) i--;
  return i;
}

function isEscaped(text: string, quote: number): boolean {
  let slashes = 0;
  for (let k = quote - 1; k >= 0 && text[k] === '\\'; k--) slashes++;
  return slashes % 2 === 1;
}

/** Index just past the string starting at `i` (a '"'), or undefined if it is cut off. */
function stringEnd(text: string, i: number): number | undefined {
  for (let k = i + 1; k < text.length; k++) {
    if (text[k] === '"' && !isEscaped(text, k)) return k + 1;
  }
  return undefined;
}

/** Index of the '"' opening the string that closes at `j`, or undefined if it is cut off. */
function stringStart(text: string, j: number): number | undefined {
  for (let k = j - 1; k >= 0; k--) {
    if (text[k] === '"' && !isEscaped(text, k)) return k;
  }
  return undefined;
}

const SCALAR_CHAR = /[-+.0-9a-zA-Z]/;

/** Index just past the value starting at `i`, or undefined if it is cut off or malformed. */
function valueEnd(text: string, i: number): number | undefined {
  const c = text[i];
  if (c === '"') return stringEnd(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let k = i; k < text.length; k++) {
      const d = text[k];
      if (d === '"') {
        const end = stringEnd(text, k);
        if (end === undefined) return undefined;
        k = end - 1;
      } else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return k + 1;
      }
    }
    return undefined;
  }
  let k = i;
  while (k < text.length && SCALAR_CHAR.test(text[k] ?? '')) k++;
  // A number running into the cut might be longer than what we see ("12" of "123").
  return k > i && k < text.length ? k : undefined;
}

/** Index of the first character of the value ending at `j`, or undefined if it is cut off. */
function valueStart(text: string, j: number): number | undefined {
  const c = text[j];
  if (c === '"') return stringStart(text, j);
  if (c === '}' || c === ']') {
    let depth = 0;
    for (let k = j; k >= 0; k--) {
      const d = text[k];
      if (d === '"') {
        const start = stringStart(text, k);
        if (start === undefined) return undefined;
        k = start;
      } else if (d === '}' || d === ']') depth++;
      else if (d === '{' || d === '[') {
        depth--;
        if (depth === 0) return k;
      }
    }
    return undefined;
  }
  let k = j;
  while (k >= 0 && SCALAR_CHAR.test(text[k] ?? '')) k--;
  return k < j && k >= 0 ? k + 1 : undefined;
}

/** A JSON-RPC request id (string or integer) from its JSON text, or undefined. */
function parseId(json: string): RequestId | undefined {
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  } catch {
    // Not a whole JSON value: no id.
  }
  return undefined;
}

function parseKey(json: string): string | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Reads top-level members forwards from the line's opening '{' until the fragment is cut. */
function scanHead(text: string): EdgeScan {
  const scan: EdgeScan = { keys: new Set() };
  let i = skipWs(text, 0);
  if (text[i] !== '{') return scan;
  i = skipWs(text, i + 1);
  while (i < text.length && text[i] === '"') {
    const keyEnd = stringEnd(text, i);
    if (keyEnd === undefined) return scan;
    const key = parseKey(text.slice(i, keyEnd));
    if (key === undefined) return scan;
    i = skipWs(text, keyEnd);
    if (text[i] !== ':') return scan;
    i = skipWs(text, i + 1);
    // Recorded before its value is skipped: the huge "result" value is where the head is cut.
    scan.keys.add(key);
    const end = valueEnd(text, i);
    if (end === undefined) return scan;
    if (key === 'id') {
      const id = parseId(text.slice(i, end));
      if (id !== undefined) scan.id = id;
    }
    i = skipWs(text, end);
    if (text[i] !== ',') return scan;
    i = skipWs(text, i + 1);
  }
  return scan;
}

/** Reads top-level members backwards from the line's closing '}' until the fragment is cut. */
function scanTail(text: string): EdgeScan {
  const scan: EdgeScan = { keys: new Set() };
  let j = skipWsBack(text, text.length - 1);
  if (text[j] !== '}') return scan;
  j = skipWsBack(text, j - 1);
  while (j >= 0) {
    const start = valueStart(text, j);
    if (start === undefined) return scan;
    const valueText = text.slice(start, j + 1);
    j = skipWsBack(text, start - 1);
    if (text[j] !== ':') return scan;
    j = skipWsBack(text, j - 1);
    if (text[j] !== '"') return scan;
    const keyStart = stringStart(text, j);
    if (keyStart === undefined) return scan;
    const key = parseKey(text.slice(keyStart, j + 1));
    if (key === undefined) return scan;
    scan.keys.add(key);
    if (key === 'id') {
      const id = parseId(valueText);
      if (id !== undefined) scan.id = id;
    }
    j = skipWsBack(text, keyStart - 1);
    if (text[j] !== ',') return scan;
    j = skipWsBack(text, j - 1);
  }
  return scan;
}
