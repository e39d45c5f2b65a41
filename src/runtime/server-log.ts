/**
 * A server's stderr is its log, and the first place to look when it does not start ("npm error
 * 403", "Cannot find module"). Warden keeps the newest part of it per server process, in memory
 * and bounded, and records it in the audit log (the one store: design.md) when the process fails,
 * exits or is stopped; `warden logs SERVER` reads it back. What is recorded is made safe to store
 * and to print: the values of the server's own secrets are redacted, terminal control sequences
 * and other control characters are removed, and it is cut to a bound that fits an audit record.
 */

/** Bytes of stderr kept in memory per server process. */
export const STDERR_RING_BYTES = 64 * 1024;
/** Characters of stderr recorded in one audit event (an event holds at most 64 KiB of JSON). */
export const STDERR_RECORDED_CHARS = 16 * 1024;
/** Secrets shorter than this are not redacted (they would match ordinary text). */
const MIN_SECRET_LENGTH = 6;

/** The newest bytes of a stream, at most `maxBytes`. */
export class StderrRing {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #dropped = false;

  constructor(maxBytes: number = STDERR_RING_BYTES) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    const piece = chunk.length > this.#maxBytes ? chunk.subarray(chunk.length - this.#maxBytes) : chunk;
    if (piece !== chunk) this.#dropped = true;
    this.#chunks.push(piece);
    this.#bytes += piece.length;
    while (this.#bytes > this.#maxBytes) {
      const first = this.#chunks[0];
      if (first === undefined) break;
      const excess = this.#bytes - this.#maxBytes;
      this.#dropped = true;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#bytes -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#bytes -= excess;
      }
    }
  }

  /** The kept text, made safe to record (see {@link safeLogText}). */
  text(secrets: readonly string[] = [], maxChars: number = STDERR_RECORDED_CHARS): string {
    return safeLogText(Buffer.concat(this.#chunks).toString('utf8'), secrets, maxChars, this.#dropped);
  }
}

/**
 * `text` with every secret value redacted, ANSI escape sequences and other control characters
 * (but newlines and tabs) and bidi controls removed, cut to its last `maxChars` characters at a
 * line start; `cut` marks text that already lost its beginning.
 */
export function safeLogText(text: string, secrets: readonly string[], maxChars: number, cut = false): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join('[redacted]');
  out = out
    // CSI and OSC sequences (colours, cursor moves, window titles), then any other control.
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g, '')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
  let lost = cut;
  if (out.length > maxChars) {
    out = out.slice(out.length - maxChars);
    lost = true;
  }
  if (lost) {
    const newline = out.indexOf('\n');
    out = `[… earlier output dropped]\n${newline >= 0 && newline < out.length - 1 ? out.slice(newline + 1) : out}`;
  }
  return out;
}
