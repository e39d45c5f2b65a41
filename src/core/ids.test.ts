import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RUN_ID_PATTERN, newRunId, newSecret } from './ids.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function decodeTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(4, 14)) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

describe('newRunId', () => {
  it('has the run_ + 26 Crockford base32 layout that RUN_ID_PATTERN accepts', () => {
    const id = newRunId();
    expect(id).toMatch(/^run_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(RUN_ID_PATTERN.test(id)).toBe(true);
  });

  it('encodes the start time in the first 10 characters', () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    expect(decodeTime(newRunId(now))).toBe(now);
    expect(newRunId(0).slice(4, 14)).toBe('0000000000');
    expect(newRunId(31).slice(4, 14)).toBe('000000000Z');
    expect(newRunId(32).slice(4, 14)).toBe('0000000010');
  });

  it('property: ids sort by start time (string order = time order)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), (a, b) => {
        const [x, y] = [newRunId(a), newRunId(b)];
        expect(decodeTime(x)).toBe(a);
        if (a < b) expect(x < y).toBe(true);
        if (a > b) expect(x > y).toBe(true);
      }),
    );
  });

  it('the random part differs between ids of the same millisecond (80 bits: unguessable)', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 2000 }, () => newRunId(now)));
    expect(ids.size).toBe(2000);
    const randomParts = new Set([...ids].map((id) => id.slice(14)));
    expect(randomParts.size).toBe(2000);
    // Every symbol of the alphabet shows up in the random part: it is not biased to a subset.
    const seen = new Set([...randomParts].join(''));
    expect(seen.size).toBe(32);
  });
});

describe('RUN_ID_PATTERN', () => {
  const valid = `run_${'0'.repeat(10)}${'Z'.repeat(16)}`;
  it.each([
    ['lower case', valid.toLowerCase()],
    ['RUN_ prefix', valid.replace('run_', 'RUN_')],
    ['no prefix', valid.slice(4)],
    ['too short', valid.slice(0, -1)],
    ['too long', `${valid}0`],
    ['I (not Crockford)', `${valid.slice(0, -1)}I`],
    ['L (not Crockford)', `${valid.slice(0, -1)}L`],
    ['O (not Crockford)', `${valid.slice(0, -1)}O`],
    ['U (not Crockford)', `${valid.slice(0, -1)}U`],
    ['path traversal', 'run_../../../../etc/passwd'],
    ['trailing newline', `${valid}\n`],
    ['leading space', ` ${valid}`],
  ])('refuses %s', (_what, id) => {
    expect(RUN_ID_PATTERN.test(id)).toBe(false);
  });

  it('accepts a valid id', () => {
    expect(RUN_ID_PATTERN.test(valid)).toBe(true);
  });
});

describe('newSecret', () => {
  it('is 256 bits of hex and differs every time', () => {
    const secrets = Array.from({ length: 100 }, () => newSecret());
    for (const s of secrets) expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(secrets).size).toBe(100);
  });
});
