import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canaryEncodings } from '../../test/kits/canary.js';
import { SecretRedactor } from './redactor.js';

const CANARY = 'canary-7f3a9c2e/secret+value=';

/** Whether any form of `value` (base64 at any alignment too) is left in `text`. */
function leaks(text: string, value: string): boolean {
  if (canaryEncodings(value).some((form) => text.includes(form))) return true;
  for (let align = 1; align < 3; align++) {
    const enc = Buffer.concat([Buffer.alloc(align, 0x41), Buffer.from(value)]).toString('base64');
    const core = enc.slice(Math.ceil((align * 8) / 6), Math.floor(((align + Buffer.byteLength(value)) * 8) / 6));
    if (text.includes(core)) return true;
  }
  return false;
}

describe('SEC-01 known-secret redaction', () => {
  const redactor = new SecretRedactor([
    { name: 'github', value: CANARY },
    { name: 'short', value: 'abc' },
  ]);

  it('finds the value as is, JSON-escaped, URL-encoded, hex and base64 at every alignment, inside longer text', () => {
    for (const form of canaryEncodings(CANARY)) {
      const { text, hits } = redactor.redact(`before ${form} after`);
      // A base64 form may keep its last one or two characters (they also hold padding bits: at most 4 bits of the value).
      expect(text, form).toMatch(/^before \[redacted:github\][A-Za-z0-9+/=_-]{0,3} after$/);
      expect(leaks(text, CANARY)).toBe(false);
      expect(hits[0]?.name).toBe('github');
    }
    for (const prefix of ['', 'x', 'xy', 'some longer prefix ']) {
      const blob = Buffer.from(`${prefix}${CANARY} and more`).toString('base64');
      const { text } = redactor.redact(`data:${blob}`);
      expect(leaks(text, CANARY), `prefix ${JSON.stringify(prefix)}: ${text}`).toBe(false);
      expect(text).toContain('[redacted:github]');
    }
  });

  it('a short value is redacted only as it is', () => {
    expect(redactor.redact('xabcx').text).toBe('x[redacted:short]x');
    expect(redactor.redact(Buffer.from('abc').toString('hex')).text).toBe('616263');
  });

  it('property: whatever the form and however the text is chunked, no form of the secret gets through and the rest is intact', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 200 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (before, after, formIndex, cuts) => {
          fc.pre(!leaks(before + after, CANARY) && !before.includes('[') && !after.includes('['));
          const form = canaryEncodings(CANARY)[formIndex] ?? CANARY;
          const input = `${before}${form}${after}`;
          const stream = redactor.stream();
          let out = '';
          let at = 0;
          for (const size of cuts) {
            out += stream.push(input.slice(at, at + size));
            at += size;
          }
          out += stream.push(input.slice(at));
          out += stream.end();
          expect(leaks(out, CANARY)).toBe(false);
          expect(out).toBe(redactor.redact(input).text);
          expect(out.startsWith(before.replace(/abc/g, '[redacted:short]'))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('with no secrets it passes text through unchanged', () => {
    const none = new SecretRedactor([]);
    expect(none.redact('anything').text).toBe('anything');
    const stream = none.stream();
    expect(stream.push('abc') + stream.end()).toBe('abc');
  });
});
