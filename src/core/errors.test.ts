import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, EXIT, WardenError, isWardenError, type ErrorCode } from './errors.js';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('EXIT', () => {
  it('uses distinct codes, with the conventional values for timeout (124) and not-found/not-executable (127/126)', () => {
    const values = Object.values(EXIT);
    expect(new Set(values).size).toBe(values.length);
    expect(EXIT.ok).toBe(0);
    expect(EXIT.usage).toBe(2);
    expect(EXIT.timeout).toBe(124);
    expect(EXIT.wardenFailed).toBe(125);
    expect(EXIT.notExecutable).toBe(126);
    expect(EXIT.notFound).toBe(127);
    // Above 127 a code reads as 128 + a signal; the one such code is Ctrl-C's, as shells report it.
    expect(EXIT.interrupted).toBe(128 + 2);
    for (const v of values.filter((value) => value !== EXIT.interrupted)) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(127);
    }
  });
});

describe('ERROR_CODES', () => {
  it('has stable upper-case code names', () => {
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it.each(codes)('%s has a one-line summary and a non-zero warden exit code', (code) => {
    const spec = ERROR_CODES[code];
    expect(spec.summary.trim().length).toBeGreaterThan(10);
    expect(spec.summary).not.toContain('\n');
    expect(spec.summary).toMatch(/[.)]$/);
    expect(Object.values(EXIT)).toContain(spec.exit);
    expect(spec.exit).not.toBe(EXIT.ok);
    // Warden's own failures never use the codes reserved for the sandboxed command's fate.
    expect([EXIT.timeout, EXIT.memoryLimit, EXIT.notExecutable, EXIT.notFound] as number[]).not.toContain(spec.exit);
  });

  it('usage and config errors exit 2 (nothing was run); integrity failures exit 3', () => {
    for (const code of [
      'CONFIG_NOT_FOUND',
      'CONFIG_PARSE',
      'CONFIG_INVALID',
      'CONFIG_TOO_LARGE',
      'PROFILE_NOT_FOUND',
      'USAGE',
      'WORKSPACE_INVALID',
      'PATH_POLICY',
    ] as const) {
      expect(ERROR_CODES[code].exit).toBe(EXIT.usage);
    }
    expect(ERROR_CODES.AUDIT_CORRUPT.exit).toBe(EXIT.integrity);
    for (const code of ['SANDBOX_UNAVAILABLE', 'SANDBOX_START_FAILED', 'AUDIT_UNAVAILABLE', 'INTERNAL'] as const) {
      expect(ERROR_CODES[code].exit).toBe(EXIT.wardenFailed);
    }
  });

  it('docs/errors.md documents every code (the header of errors.ts promises a test keeps them in step)', () => {
    const doc = new URL('../../docs/errors.md', import.meta.url);
    expect(existsSync(doc), 'docs/errors.md is missing').toBe(true);
    const text = readFileSync(doc, 'utf8');
    for (const code of codes) expect(text, `docs/errors.md does not mention ${code}`).toContain(code);
  });
});

describe('WardenError', () => {
  it('carries code, message, hint and cause, and is an Error', () => {
    const cause = new Error('ENOENT');
    const error = new WardenError('CONFIG_NOT_FOUND', 'config file /x does not exist', {
      hint: 'check the --config path',
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('WardenError');
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.message).toBe('config file /x does not exist');
    expect(error.hint).toBe('check the --config path');
    expect(error.cause).toBe(cause);
    expect(error.stack).toContain('WardenError');
  });

  it('has no hint and no cause unless given', () => {
    const error = new WardenError('INTERNAL', 'boom');
    expect(error.hint).toBeUndefined();
    expect('cause' in error).toBe(false);
  });

  it.each(codes)('%s: exitCode comes from the registry', (code) => {
    expect(new WardenError(code, 'x').exitCode).toBe(ERROR_CODES[code].exit);
  });
});

describe('isWardenError', () => {
  it('recognises WardenErrors, also copies from another bundle (same name, has code)', () => {
    expect(isWardenError(new WardenError('USAGE', 'x'))).toBe(true);
    const copy = Object.assign(new Error('x'), { name: 'WardenError', code: 'USAGE' });
    expect(isWardenError(copy)).toBe(true);
  });

  it('rejects everything else', () => {
    expect(isWardenError(new Error('x'))).toBe(false);
    expect(isWardenError(Object.assign(new Error('x'), { name: 'WardenError' }))).toBe(false);
    expect(isWardenError(Object.assign(new TypeError('x'), { code: 'USAGE' }))).toBe(false);
    expect(isWardenError({ name: 'WardenError', code: 'USAGE', message: 'x' })).toBe(false);
    expect(isWardenError(null)).toBe(false);
    expect(isWardenError(undefined)).toBe(false);
    expect(isWardenError('WardenError')).toBe(false);
  });
});
