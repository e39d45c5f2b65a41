import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ArgumentRedactor } from './redact.js';

describe('argument redaction for the audit log', () => {
  const redactor = new ArgumentRedactor(randomBytes(32), ['pin']);

  it('AUD-05 sensitive arguments are stored as keyed digests, never in plaintext', () => {
    const out = redactor.redact({ path: '/ws/a', api_key: 'sk-live-123', nested: { Password: 'hunter2' }, pin: 1234 });
    const text = JSON.stringify(out);
    expect(text).not.toContain('sk-live-123');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('1234');
    expect(out.path).toBe('/ws/a');
    expect(out.api_key).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(out.api_key).toBe(redactor.digest('sk-live-123'));
  });

  it('long values are cut to a prefix, their length and SHA-256', () => {
    const out = redactor.redact({ body: 'x'.repeat(5000) }) as { body: { length: number; sha256: string } };
    expect(out.body.length).toBe(5000);
    expect(out.body.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a short key', () => {
    expect(() => new ArgumentRedactor(Buffer.alloc(8), [])).toThrow(TypeError);
  });
});
