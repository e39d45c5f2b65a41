/**
 * Bounded newline-delimited framing: the one place that turns a byte stream into lines, for every
 * newline-delimited JSON-RPC reader in warden (the agent-facing stdio endpoint, the upstream
 * servers' stdout in {@link LineTransport}, the remote bridge's stdin).
 *
 * The rules, the same for every reader:
 *   - a line is the bytes before a '\n'; one '\r' right before it (a CRLF ending) is not part of
 *     the line, and does not count against the limit;
 *   - a line of more than `maxLineBytes` is never held whole: once it passes the limit only its
 *     first and last 512 bytes are kept (a transport may recover a response id from them) and
 *     `onOversized` gets them at its '\n'; reading goes on with the next line;
 *   - lines are handed over as bytes, never decoded here, so a UTF-8 character split across
 *     chunks arrives whole (and a strict reader can still refuse invalid UTF-8 itself);
 *   - bytes after the last '\n' when the input ends are a line cut short: `end()` judges them
 *     like any other line or drops them, as the reader chose (`partialLastLine`);
 *   - empty lines (also a lone '\r') are skipped.
 *
 * Memory: one buffer per framer, grown by doubling up to `maxLineBytes` + 1 and freed after each
 * line that spanned chunks, so an idle stream holds nothing; a line that arrives whole in one
 * chunk is handed over as a view of the chunk, without a copy.
 */

/** What the framer keeps of a line longer than the limit. */
export interface OversizedLine {
  /** Bytes of the whole line (without its line ending). */
  readonly bytes: number;
  /** Its first bytes (at most {@link EDGE_BYTES}). */
  readonly head: Buffer;
  /** Its last bytes (at most {@link EDGE_BYTES}; one fewer when a CRLF's '\r' was cut off). */
  readonly tail: Buffer;
}

/** How to build a {@link LineFramer}. */
export interface LineFramerOptions {
  /** Longest accepted line, in bytes, without its line ending. */
  readonly maxLineBytes: number;
  /** Called for each complete, non-empty line within the limit (a view: copy it to keep it). */
  readonly onLine: (line: Buffer) => void;
  /** Called at the end of each line over the limit. */
  readonly onOversized: (line: OversizedLine) => void;
  /**
   * Bytes after the last '\n' at the end of input: `judge` them as a line (an upstream that died
   * mid-write still fails its pending request), or `drop` them (a message that was never
   * finished is never acted on). Default `judge`.
   */
  readonly partialLastLine?: 'judge' | 'drop';
}

/** Bytes kept from each end of an oversized line: enough for `"jsonrpc":"2.0","id":…` either side. */
export const EDGE_BYTES = 512;
const LF = 0x0a;
const CR = 0x0d;
/** First allocation for a line spanning chunks; small enough to be cheap per idle stream. */
const MIN_CAPACITY = 4096;
const EMPTY = Buffer.alloc(0);

/** Splits a byte stream into bounded lines; feed it with {@link push}, finish with {@link end}. */
export class LineFramer {
  readonly #max: number;
  /** Bytes buffered before a line counts as oversized: the limit plus one for a CRLF's '\r'. */
  readonly #cap: number;
  readonly #onLine: (line: Buffer) => void;
  readonly #onOversized: (line: OversizedLine) => void;
  readonly #judgePartial: boolean;

  /**
   * The unfinished line while it is within the cap, in one buffer grown by doubling. One buffer
   * rather than a list of chunks: a writer dribbling one byte per write would otherwise cost a
   * Buffer object (~100 bytes of overhead) per byte.
   */
  #line: Buffer = EMPTY;
  #lineBytes = 0;
  /** Set while an oversized line is being discarded: only its edges are kept. */
  #discard: { head: Buffer; tail: Buffer; bytes: number } | undefined;
  #stopped = false;

  /**
   * @param options the limit, the two callbacks and what to do with a cut-off last line
   * @throws RangeError when `maxLineBytes` is not a positive safe integer
   */
  constructor(options: LineFramerOptions) {
    if (!Number.isSafeInteger(options.maxLineBytes) || options.maxLineBytes <= 0) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${String(options.maxLineBytes)}`);
    }
    this.#max = options.maxLineBytes;
    this.#cap = options.maxLineBytes + 1;
    this.#onLine = options.onLine;
    this.#onOversized = options.onOversized;
    this.#judgePartial = (options.partialLastLine ?? 'judge') === 'judge';
  }

  /** The line limit in bytes. */
  get maxLineBytes(): number {
    return this.#max;
  }

  /**
   * Bytes allocated for the unfinished line: at most `maxLineBytes` + 1, or 2 × 512 while an
   * oversized line is discarded (the memory bound, which tests check).
   */
  get bufferedBytes(): number {
    return this.#discard ? this.#discard.head.length + this.#discard.tail.length : this.#line.length;
  }

  /** Feeds the next chunk. Callbacks run synchronously; a {@link stop} inside one ends the chunk. */
  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length && !this.#stopped) {
      const newline = chunk.indexOf(LF, start);
      if (newline < 0) {
        this.#append(chunk.subarray(start));
        return;
      }
      this.#endLine(chunk.subarray(start, newline));
      start = newline + 1;
    }
  }

  /** The input ended: judges or drops a last line without '\n' (see `partialLastLine`), then stops. */
  end(): void {
    if (!this.#stopped && this.#judgePartial && (this.#lineBytes > 0 || this.#discard)) this.#endLine(EMPTY);
    this.stop();
  }

  /** Stops for good: later input is ignored and the buffer is freed. */
  stop(): void {
    this.#stopped = true;
    this.#release();
    this.#discard = undefined;
  }

  /** Adds the start of a line whose end has not arrived yet. */
  #append(segment: Buffer): void {
    if (this.#discard) {
      this.#discardMore(segment);
      return;
    }
    const needed = this.#lineBytes + segment.length;
    if (needed > this.#cap) {
      this.#startDiscarding(segment);
      return;
    }
    if (needed > this.#line.length) {
      const capacity = Math.min(this.#cap, Math.max(needed, 2 * this.#line.length, MIN_CAPACITY));
      // allocUnsafe is fine: only the first #lineBytes bytes are ever read.
      const grown = Buffer.allocUnsafe(capacity);
      this.#line.copy(grown, 0, 0, this.#lineBytes);
      this.#line = grown;
    }
    segment.copy(this.#line, this.#lineBytes);
    this.#lineBytes = needed;
  }

  /** Completes the current line with `last` (the bytes before its '\n') and hands it over. */
  #endLine(last: Buffer): void {
    if (this.#discard) this.#discardMore(last);
    else if (this.#lineBytes + last.length > this.#cap) this.#startDiscarding(last);
    if (this.#discard) {
      const { head, tail, bytes } = this.#discard;
      this.#discard = undefined;
      // The '\r' of a CRLF ending is not part of the line: leave it out of the size and tail.
      // (Discarding starts above maxLineBytes + 1 bytes, so the line is still over the limit.)
      const crlf = tail.at(-1) === CR;
      const size = crlf ? bytes - 1 : bytes;
      this.#onOversized({ bytes: size, head: head.subarray(0, size), tail: crlf ? tail.subarray(0, -1) : tail });
      return;
    }
    let line: Buffer;
    if (this.#lineBytes === 0) {
      // The whole line is in this chunk (the common case): a view, no copy.
      line = last;
    } else {
      this.#append(last);
      line = this.#line.subarray(0, this.#lineBytes);
      this.#release();
    }
    if (line.at(-1) === CR) line = line.subarray(0, -1);
    if (line.length === 0) return;
    if (line.length > this.#max) {
      this.#onOversized({
        bytes: line.length,
        head: Buffer.from(line.subarray(0, EDGE_BYTES)),
        tail: Buffer.from(line.subarray(Math.max(0, line.length - EDGE_BYTES))),
      });
      return;
    }
    this.#onLine(line);
  }

  /** Switches from buffering to discarding, keeping only the edges of what was buffered. */
  #startDiscarding(segment: Buffer): void {
    const pieces = [this.#line.subarray(0, this.#lineBytes), segment];
    this.#discard = { head: EMPTY, tail: EMPTY, bytes: 0 };
    for (const piece of pieces) this.#discardMore(piece);
    this.#release();
  }

  /** Frees the line buffer: an idle stream should hold no memory for lines. */
  #release(): void {
    this.#line = EMPTY;
    this.#lineBytes = 0;
  }

  /** Drops `segment` of an oversized line, remembering its last bytes as the line's tail. */
  #discardMore(segment: Buffer): void {
    const discard = this.#discard;
    if (!discard) return;
    discard.bytes += segment.length;
    // The head fills up from the first segments (a line may pass the limit in tiny chunks).
    if (discard.head.length < EDGE_BYTES && segment.length > 0) {
      discard.head = Buffer.concat([discard.head, segment.subarray(0, EDGE_BYTES - discard.head.length)]);
    }
    if (segment.length >= EDGE_BYTES) {
      discard.tail = Buffer.from(segment.subarray(segment.length - EDGE_BYTES));
    } else if (segment.length > 0) {
      const joined = Buffer.concat([discard.tail, segment]);
      discard.tail = joined.length > EDGE_BYTES ? joined.subarray(joined.length - EDGE_BYTES) : joined;
    }
  }
}
