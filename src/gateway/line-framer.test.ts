import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EDGE_BYTES, LineFramer, type OversizedLine } from './line-framer.js';

type Seen = { line: string } | { oversized: number; head: string; tail: string };

function framer(max: number, partialLastLine: 'judge' | 'drop' = 'judge'): { f: LineFramer; seen: Seen[] } {
  const seen: Seen[] = [];
  const f = new LineFramer({
    maxLineBytes: max,
    onLine: (line) => seen.push({ line: line.toString('utf8') }),
    onOversized: (o: OversizedLine) =>
      seen.push({ oversized: o.bytes, head: o.head.toString('latin1'), tail: o.tail.toString('latin1') }),
    partialLastLine,
  });
  return { f, seen };
}

/** Cuts `bytes` at the given offsets (sorted, deduplicated) into chunks. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** The reference: what the rules say, on the whole input at once. */
function reference(input: Buffer, max: number, partial: 'judge' | 'drop'): Seen[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (let nl = input.indexOf(0x0a); nl >= 0; nl = input.indexOf(0x0a, from)) {
    parts.push(input.subarray(from, nl));
    from = nl + 1;
  }
  if (from < input.length && partial === 'judge') parts.push(input.subarray(from));
  const out: Seen[] = [];
  for (const raw of parts) {
    const line = raw.at(-1) === 0x0d ? raw.subarray(0, -1) : raw;
    if (line.length === 0) continue;
    if (line.length > max)
      out.push({
        oversized: line.length,
        head: line.subarray(0, EDGE_BYTES).toString('latin1'),
        tail: line.subarray(Math.max(0, line.length - EDGE_BYTES)).toString('latin1'),
      });
    else out.push({ line: line.toString('utf8') });
  }
  return out;
}

describe('LineFramer: the one bounded line framing', () => {
  it('any bytes in any chunks give the same lines as splitting the whole input (LF, CRLF, oversized, partial end)', () => {
    const piece = fc.oneof(
      fc.constantFrom('\n', '\r\n', '\r', 'é', '€', '😀', '{"id":1}', ''),
      fc.string({ maxLength: 40 }),
      fc.integer({ min: 0, max: 1200 }).map((n) => 'x'.repeat(n)),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 700 }),
        fc.constantFrom<'judge' | 'drop'>('judge', 'drop'),
        (pieces, cuts, max, partial) => {
          const input = Buffer.from(pieces.join(''), 'utf8');
          const { f, seen } = framer(max, partial);
          for (const chunk of chunked(input, cuts)) f.push(chunk);
          f.end();
          // A tail may be one byte short when a CRLF's '\r' was cut off it: compare 511.
          const norm = (all: Seen[]): Seen[] =>
            all.map((s) => ('tail' in s ? { ...s, tail: s.tail.slice(-(EDGE_BYTES - 1)) } : s));
          expect(norm(seen)).toEqual(norm(reference(input, max, partial)));
          expect(f.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a UTF-8 character split across chunks arrives whole', () => {
    const { f, seen } = framer(100);
    const bytes = Buffer.from('{"t":"€😀"}\n', 'utf8');
    for (const b of bytes) f.push(Buffer.of(b));
    expect(seen).toEqual([{ line: '{"t":"€😀"}' }]);
  });

  it('a line of exactly the limit passes with LF or CRLF; one byte more is oversized, the CR not counted', () => {
    const { f, seen } = framer(10);
    f.push(Buffer.from('0123456789\n0123456789\r\n0123456789A\r\n0123456789A\n'));
    expect(seen).toEqual([
      { line: '0123456789' },
      { line: '0123456789' },
      { oversized: 11, head: '0123456789A', tail: '0123456789A' },
      { oversized: 11, head: '0123456789A', tail: '0123456789A' },
    ]);
  });

  it('a flood without newlines holds at most the limit + 1, or two 512-byte edges, then recovers', () => {
    const max = 64 * 1024;
    const { f, seen } = framer(max);
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      f.push(Buffer.alloc(7919, 0x7a));
      peak = Math.max(peak, f.bufferedBytes);
    }
    expect(peak).toBeLessThanOrEqual(max + 1);
    expect(f.bufferedBytes).toBe(2 * EDGE_BYTES);
    f.push(Buffer.from('\r\nok\n'));
    expect(seen).toEqual([
      // The CRLF's '\r' was the tail's last byte: cut off, it leaves 511.
      { oversized: 200 * 7919, head: 'z'.repeat(EDGE_BYTES), tail: 'z'.repeat(EDGE_BYTES - 1) },
      { line: 'ok' },
    ]);
    expect(f.bufferedBytes).toBe(0);
  });

  it('a cut-off last line is judged or dropped, as the reader chose', () => {
    const judged = framer(100, 'judge');
    judged.f.push(Buffer.from('a\nhalf'));
    judged.f.end();
    expect(judged.seen).toEqual([{ line: 'a' }, { line: 'half' }]);
    const dropped = framer(100, 'drop');
    dropped.f.push(Buffer.from('a\nhalf'));
    dropped.f.end();
    expect(dropped.seen).toEqual([{ line: 'a' }]);
  });

  it('stop() inside a callback ends the chunk; later input is ignored', () => {
    const seen: string[] = [];
    const f: LineFramer = new LineFramer({
      maxLineBytes: 100,
      onLine: (line) => {
        seen.push(line.toString());
        f.stop();
      },
      onOversized: () => undefined,
    });
    f.push(Buffer.from('one\ntwo\n'));
    f.push(Buffer.from('three\n'));
    f.end();
    expect(seen).toEqual(['one']);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => framer(bad)).toThrow(RangeError);
    }
  });
});
