import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REVOCATIONS_FILE, RevocationList, revokeToken } from './revocations.js';
import { TokenVerifier, gatewayAudience, issueToken, signingKeysFromSeed, tokenIdentity } from './tokens.js';

const keys = signingKeysFromSeed(Buffer.alloc(32, 9));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warden-revoke-'));
  dirs.push(d);
  return d;
}

describe('token revocation', () => {
  it('ID-04 GW-07 a revoked token is refused from the next check on, cached or not; others still pass', async () => {
    const dir = stateDir();
    const audience = gatewayAudience('default');
    const verifier = new TokenVerifier(keys, { audience, requiredScope: 'mcp', revocations: new RevocationList(dir) });
    const a = await issueToken(keys, { subject: 'bot-a', audience, scopes: ['mcp'], ttlSeconds: 600 });
    const b = await issueToken(keys, { subject: 'bot-b', audience, scopes: ['mcp'], ttlSeconds: 600 });
    expect(await verifier.check(`Bearer ${a.token}`)).toMatchObject({ ok: true, subject: 'bot-a' });
    revokeToken(dir, a.jti, a.expiresAt);
    expect(await verifier.check(`Bearer ${a.token}`)).toMatchObject({
      ok: false,
      status: 401,
      description: 'the token has been revoked',
    });
    expect(await verifier.check(`Bearer ${b.token}`)).toMatchObject({ ok: true, subject: 'bot-b' });
  });

  it('tokenIdentity reads id and expiry from our own tokens only (expired ones too)', async () => {
    const audience = gatewayAudience('default');
    const t = await issueToken(keys, { subject: 'bot', audience, scopes: ['mcp'], ttlSeconds: 1 });
    expect(await tokenIdentity(t.token, keys)).toEqual({ jti: t.jti, exp: t.expiresAt, subject: 'bot' });
    const foreign = await issueToken(signingKeysFromSeed(Buffer.alloc(32, 1)), {
      subject: 'bot',
      audience,
      scopes: ['mcp'],
      ttlSeconds: 60,
    });
    expect(await tokenIdentity(foreign.token, keys)).toBeNull();
    expect(await tokenIdentity('not.a.token', keys)).toBeNull();
  });

  it('expired entries are pruned when another token is revoked; ids are validated', () => {
    const dir = stateDir();
    const [oldId, newId] = ['old', 'new'].map((w) => w.padEnd(22, '-'));
    revokeToken(dir, oldId ?? '', 100, 50);
    revokeToken(dir, newId ?? '', 10_000, 200);
    const lines = readFileSync(join(dir, REVOCATIONS_FILE), 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { jti: string }).jti)).toEqual([newId]);
    // Only what warden issues: 22 base64url characters. A short id, a pasted token, a typo: refused, saying what one looks like.
    for (const bad of ['bad id!', 'abc', 'x'.repeat(23), 'eyJhbGciOiJFZERTQSJ9.eyJ.sig', `${'a'.repeat(21)}=`])
      expect(() => revokeToken(dir, bad, 10_000), bad).toThrow(
        /is not a token id: warden's token ids are 22 characters/,
      );
    expect(readFileSync(join(dir, REVOCATIONS_FILE), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('fails closed: an unreadable or garbled list refuses every token and says why; a missing one refuses none', () => {
    const dir = stateDir();
    const list = new RevocationList(dir);
    expect(list.check('x')).toEqual({ revoked: false });
    writeFileSync(join(dir, REVOCATIONS_FILE), '{"jti":"a","exp":1,"revoked_at":"t"}\nnot json\n');
    expect(list.check('anything')).toMatchObject({
      revoked: true,
      why: expect.stringMatching(/cannot be read \(line 2 is not JSON\)/),
    });
    expect(() => revokeToken(dir, 'b'.repeat(22), 10)).toThrow(/cannot be read/);
    writeFileSync(join(dir, REVOCATIONS_FILE), '{"jti":"a","exp":1,"revoked_at":"t"}\n');
    expect(list.check('a')).toMatchObject({ revoked: true, why: 'the token has been revoked' });
    expect(list.check('b')).toEqual({ revoked: false });
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, REVOCATIONS_FILE), 0o000);
      writeFileSync(join(dir, 'touch'), '');
      expect(new RevocationList(dir).check('b').revoked).toBe(true);
    }
  });
});
