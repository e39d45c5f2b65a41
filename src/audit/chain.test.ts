import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, chainRecord, hashRecord, type RecordBody } from './chain.js';

const RUN = 'run_01JH0000000000000000000000';

function body(detail: string, seq = 1): Extract<RecordBody, { type: 'violation' }> {
  return {
    seq,
    ts: '2025-01-01T00:00:00.000Z',
    type: 'violation',
    run_id: RUN,
    agent: { name: 'a', run_id: RUN },
    data: { kind: 'other', detail },
  };
}

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== 'object') return value;
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(
    Object.keys(value)
      .reverse()
      .map((k) => [k, reverseKeys((value as Record<string, unknown>)[k])]),
  );
}

describe('hash chain', () => {
  it('hashes the RFC 8785 form of {seq, ts, prev_hash, type, run_id, agent, data}', () => {
    // Written out by hand: keys sorted, no whitespace.
    const expected =
      `{"agent":{"name":"a","run_id":"${RUN}"},"data":{"detail":"x","kind":"other"},"prev_hash":"${GENESIS_HASH}",` +
      `"run_id":"${RUN}","seq":1,"ts":"2025-01-01T00:00:00.000Z","type":"violation"}`;
    expect(hashRecord(GENESIS_HASH, body('x'))).toBe(createHash('sha256').update(expected).digest('hex'));
    const { record, canonical } = chainRecord(GENESIS_HASH, body('x'));
    expect(canonical).toBe(expected);
    expect(record.hash).toBe(hashRecord(GENESIS_HASH, body('x')));
    expect(record.prev_hash).toBe(GENESIS_HASH);
  });

  it('does not depend on key order, and changes with any field', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), (extra, detail) => {
        const a = { ...body(detail), data: { kind: 'other' as const, detail, extra } };
        const b = reverseKeys(a) as RecordBody;
        expect(hashRecord(GENESIS_HASH, b)).toBe(hashRecord(GENESIS_HASH, a));
        expect(hashRecord(GENESIS_HASH, { ...a, seq: 2 })).not.toBe(hashRecord(GENESIS_HASH, a));
        expect(hashRecord('1'.repeat(64), a)).not.toBe(hashRecord(GENESIS_HASH, a));
      }),
      { numRuns: 500 },
    );
  });

  it('does not hash or store properties outside the schema', () => {
    const withExtra = { ...body('x'), sneaky: 'payload' } as unknown as RecordBody;
    expect(chainRecord(GENESIS_HASH, withExtra).canonical).not.toContain('sneaky');
    expect(hashRecord(GENESIS_HASH, withExtra)).toBe(hashRecord(GENESIS_HASH, body('x')));
  });

  it('refuses values JSON cannot represent exactly', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ n: Infinity })).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    expect(() => chainRecord('not-a-hash', body('x'))).toThrow(TypeError);
  });
});
