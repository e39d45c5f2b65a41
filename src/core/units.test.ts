import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, parseByteSize, parseDuration } from './units.js';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe('parseByteSize', () => {
  it.each([
    ['1048576', 1_048_576],
    ['0', 0],
    ['1b', 1],
    ['1B', 1],
    ['1k', KiB],
    ['1K', KiB],
    ['1kib', KiB],
    ['1KiB', KiB],
    ['1kb', 1000],
    ['1KB', 1000],
    ['512MiB', 512 * MiB],
    ['512m', 512 * MiB],
    ['512MB', 512_000_000],
    ['2G', 2 * GiB],
    ['2gib', 2 * GiB],
    ['2GB', 2_000_000_000],
    ['1.5GB', 1_500_000_000],
    ['1.5GiB', 1.5 * GiB],
    ['1T', TiB],
    ['1TiB', TiB],
    ['1TB', 1000 ** 4],
  ])('%s is %i bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it('bare k/m/g/t are binary, like docker --memory', () => {
    expect(parseByteSize('4g')).toBe(parseByteSize('4GiB'));
    expect(parseByteSize('4g')).not.toBe(parseByteSize('4GB'));
  });

  it('allows spaces around the number and the unit', () => {
    expect(parseByteSize(' 2 m ')).toBe(2 * MiB);
    expect(parseByteSize('1 KiB')).toBe(KiB);
    expect(parseByteSize('\t3G\n')).toBe(3 * GiB);
  });

  it('rounds fractional bytes down to a whole number', () => {
    expect(parseByteSize('0.5')).toBe(0);
    expect(parseByteSize('1.9b')).toBe(1);
    expect(parseByteSize('1.0000001KiB')).toBe(1024);
  });

  it.each([
    '',
    ' ',
    'abc',
    'GiB',
    '-1',
    '-1GiB',
    '+1GiB',
    '1e3',
    '1E3',
    '.5',
    '1.',
    '1..5G',
    '1,5G',
    '1 2',
    '1x',
    '1 GiBs',
    '1PiB',
    '1PB',
    '0x10',
    'Infinity',
    'NaN',
    '1GiB1MiB',
    '½G',
    '１G',
  ])('refuses %j', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });

  it('refuses sizes beyond Number.MAX_SAFE_INTEGER instead of returning an imprecise number (overflow)', () => {
    expect(parseByteSize(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseByteSize(String(Number.MAX_SAFE_INTEGER + 1))).toBeUndefined();
    expect(parseByteSize('8192TiB')).toBeUndefined();
    expect(parseByteSize('9'.repeat(400))).toBeUndefined();
    expect(parseByteSize(`${'9'.repeat(400)}TiB`)).toBeUndefined();
  });

  it('property: never throws, and returns undefined or a safe non-negative integer', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const bytes = parseByteSize(text);
        expect(bytes === undefined || (Number.isSafeInteger(bytes) && bytes >= 0)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: N MiB is N * 1048576 for every whole N that fits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 }), (n) => {
        expect(parseByteSize(`${n}MiB`)).toBe(n * MiB);
        expect(parseByteSize(String(n))).toBe(n);
      }),
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1h30m15s', 5_415_000],
    ['1m500ms', 60_500],
    ['1.5h', 5_400_000],
    ['0.5s', 500],
    [' 5s ', 5_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('a bare number is seconds', () => {
    expect(parseDuration('10')).toBe(10_000);
    expect(parseDuration('1.5')).toBe(1_500);
    expect(parseDuration(' 30 ')).toBe(30_000);
  });

  it('m is minutes and ms is milliseconds (the longer unit is not misread)', () => {
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('1ms')).toBe(1);
    expect(parseDuration('1m1ms')).toBe(60_001);
  });

  it('rounds to whole milliseconds', () => {
    expect(parseDuration('1.4ms')).toBe(1);
    expect(parseDuration('1.6ms')).toBe(2);
    expect(parseDuration('0.0004')).toBe(0);
  });

  it.each([
    '',
    '   ',
    's',
    'm',
    'ms',
    'soon',
    '1x',
    '1mm',
    '1 h',
    '1h 30m',
    '1h30',
    '30m extra',
    'x30m',
    '5S',
    '1H',
    '-1s',
    '+1s',
    '-5',
    '1e3',
    '1e3s',
    '.5s',
    '1.s',
    '1,5h',
    '1w',
    '1y',
    '1us',
    'Infinity',
    'NaN',
    '1h\n30m',
    '１s',
  ])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('property: never throws, and returns undefined or a finite non-negative integer', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const ms = parseDuration(text);
        expect(ms === undefined || (Number.isInteger(ms) && ms >= 0 && Number.isFinite(ms))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: XhYmZs adds up', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(59), fc.nat(59), (h, m, s) => {
        expect(parseDuration(`${h}h${m}m${s}s`)).toBe(((h * 60 + m) * 60 + s) * 1000);
      }),
    );
  });

  it('refuses values beyond Number.MAX_SAFE_INTEGER ms instead of returning an imprecise number (overflow, like parseByteSize)', () => {
    const huge = parseDuration('99999999999999999999999d');
    expect(huge === undefined || Number.isSafeInteger(huge)).toBe(true);
    expect(parseDuration(`${'9'.repeat(400)}d`)).toBeUndefined();
    expect(parseDuration('9'.repeat(400))).toBeUndefined();
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [MiB, '1 MiB'],
    [512 * MiB, '512 MiB'],
    [2 * GiB, '2 GiB'],
    [4 * GiB, '4 GiB'],
    [4.25 * GiB, '4.3 GiB'],
    [TiB, '1 TiB'],
    [2048 * TiB, '2048 TiB'],
  ])('%i is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('round-trips with parseByteSize for whole binary units', () => {
    for (const text of ['1 KiB', '3 MiB', '4 GiB', '2 TiB', '1.5 GiB']) {
      expect(formatBytes(parseByteSize(text.replace(' ', '')) ?? -1)).toBe(text);
    }
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [999, '999 ms'],
    [1000, '1.0 s'],
    [12_345, '12.3 s'],
    [60_000, '1m 00s'],
    [65_000, '1m 05s'],
    [245_000, '4m 05s'],
    [3_600_000, '60m 00s'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('never shows a millisecond value that belongs to the next unit (999.6 ms is not "1000 ms")', () => {
    expect(formatDuration(999.6)).not.toBe('1000 ms');
  });

  it('never shows a second value that belongs to the next unit (59 999 ms is not "60.0 s")', () => {
    expect(formatDuration(59_999)).not.toBe('60.0 s');
    expect(formatDuration(59_950)).not.toBe('60.0 s');
  });
});
