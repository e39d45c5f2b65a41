import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WARDEN_VERSION } from './version.js';

describe('WARDEN_VERSION', () => {
  it("equals package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    expect(WARDEN_VERSION).toBe(pkg.version);
  });

  it('is a semantic version', () => {
    expect(WARDEN_VERSION).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });
});
