import { describe, expect, it } from 'vitest';
import { safeLogText, StderrRing } from './server-log.js';

describe('StderrRing', () => {
  it('keeps only the newest bytes, and says that earlier output was dropped', () => {
    const ring = new StderrRing(32);
    ring.push(Buffer.from('first line that will be dropped\n'));
    ring.push(Buffer.from('kept 1\nkept 2\n'));
    const text = ring.text();
    expect(Buffer.byteLength(text)).toBeLessThan(80);
    expect(text).toContain('kept 1\nkept 2');
    expect(text).not.toContain('first line');
    expect(text.startsWith('[… earlier output dropped]\n')).toBe(true);
  });

  it('keeps a chunk larger than the ring by its tail', () => {
    const ring = new StderrRing(8);
    ring.push(Buffer.from('0123456789abcdef'));
    expect(ring.text()).toContain('89abcdef');
  });

  it('records at most the given number of characters, cut at a line start', () => {
    const ring = new StderrRing();
    for (let i = 0; i < 5000; i++) ring.push(Buffer.from(`line ${i}\n`));
    const text = ring.text([], 1000);
    expect(text.length).toBeLessThanOrEqual(1000 + 30);
    expect(text).toMatch(/\nline \d+\n/);
    expect(text).toContain('line 4999');
    expect(text.split('\n')[1]).toMatch(/^line \d+$/);
  });
});

describe('safeLogText (SEC-01)', () => {
  it('redacts every secret value, however often it appears', () => {
    const text = safeLogText('token=s3cr3t-value; again s3cr3t-value\n', ['s3cr3t-value', 'abc'], 1000);
    expect(text).toBe('token=[redacted]; again [redacted]\n');
  });

  it('removes terminal escapes, control and bidi characters but keeps newlines and tabs', () => {
    const text = safeLogText('\u001b[31mred\u001b[0m\tok\n\u001b]0;title\u0007bell\u0007\u202eevil\u0000\n', [], 1000);
    expect(text).toBe('red\tok\nbellevil\n');
  });
});
