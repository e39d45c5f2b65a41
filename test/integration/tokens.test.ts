/**
 * `warden token revoke` from several processes at once: every revocation lands in the list
 * (GW-07: a revocation that a concurrent writer silently dropped would leave the token valid).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { warden } from '../helpers/warden.js';

describe('warden token revoke', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('GW-07 twelve concurrent revocations all end up in the list', async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-revoke-'));
    const stateDir = join(dir, 'state');
    const ids = Array.from({ length: 12 }, (_, i) => `token-${String(i).padStart(16, '0')}`);
    const results = await Promise.all(
      ids.map((id) =>
        warden('root', ['--state-dir', stateDir, 'token', 'revoke', '--jti', id, '--json'], { cwd: dir }),
      ),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const listed = readFileSync(join(stateDir, 'tokens.revoked'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { jti: string }).jti)
      .sort();
    expect(listed).toEqual([...ids].sort());
  }, 60_000);

  it('refuses a missing or doubled selector and a malformed id with exit 2', async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-revoke-'));
    const stateDir = join(dir, 'state');
    expect((await warden('root', ['--state-dir', stateDir, 'token', 'revoke'], { cwd: dir })).code).toBe(2);
    expect(
      (await warden('root', ['--state-dir', stateDir, 'token', 'revoke', '--jti', 'a', '--token', 'b'], { cwd: dir }))
        .code,
    ).toBe(2);
    for (const id of ['not an id!', 'abc123']) {
      const bad = await warden('root', ['--state-dir', stateDir, 'token', 'revoke', '--jti', id], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('TOKEN_INVALID');
      // It says what a valid id looks like and where to find one.
      expect(bad.stderr).toContain("warden's token ids are 22 characters of A-Z, a-z, 0-9, - and _");
      expect(bad.stderr).toContain('warden token issue --json');
    }
  });
});
