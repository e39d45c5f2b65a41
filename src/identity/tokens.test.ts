import { randomBytes } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenVerifier, gatewayAudience, issueToken, signingKeysFromSeed } from './tokens.js';

// The clock is frozen in every test: tokens are issued and checked at fixed instants.
const T0 = 1_900_000_000;
const keys = signingKeysFromSeed(Buffer.alloc(32, 7));
const aud = gatewayAudience('coding');
const verifier = (now: number, audience = aud) =>
  new TokenVerifier(keys, { audience, requiredScope: 'mcp', now: () => now });
const bearer = (token: string) => `Bearer ${token}`;

describe('gateway tokens (GW-07)', () => {
  it('a token issued for the gateway is accepted and names its agent', async () => {
    const { token, expiresAt } = await issueToken(keys, {
      subject: 'ci-bot',
      audience: aud,
      scopes: ['mcp'],
      ttlSeconds: 900,
      now: T0,
    });
    expect(expiresAt).toBe(T0 + 900);
    expect(await verifier(T0 + 10).check(bearer(token))).toMatchObject({
      ok: true,
      subject: 'ci-bot',
      scopes: ['mcp'],
    });
  });

  it('a token for another profile (audience) is refused with 401', async () => {
    const { token } = await issueToken(keys, {
      subject: 'a',
      audience: gatewayAudience('data'),
      scopes: ['mcp'],
      ttlSeconds: 900,
      now: T0,
    });
    expect(await verifier(T0).check(bearer(token))).toMatchObject({
      ok: false,
      status: 401,
      error: 'invalid_token',
      description: expect.stringContaining('another audience') as unknown,
    });
  });

  it('a token without the mcp scope is refused with 403 insufficient_scope', async () => {
    const { token } = await issueToken(keys, {
      subject: 'a',
      audience: aud,
      scopes: ['read'],
      ttlSeconds: 900,
      now: T0,
    });
    expect(await verifier(T0).check(bearer(token))).toMatchObject({
      ok: false,
      status: 403,
      error: 'insufficient_scope',
    });
  });

  it('expired tokens are refused, also after they were cached as good', async () => {
    const { token } = await issueToken(keys, { subject: 'a', audience: aud, scopes: ['mcp'], ttlSeconds: 60, now: T0 });
    let now = T0;
    const v = new TokenVerifier(keys, { audience: aud, requiredScope: 'mcp', now: () => now });
    expect((await v.check(bearer(token))).ok).toBe(true);
    now = T0 + 60 + 6; // past exp and the 5 s tolerance
    expect(await v.check(bearer(token))).toMatchObject({
      ok: false,
      status: 401,
      description: 'the token has expired',
    });
    expect(await verifier(T0 + 3600).check(bearer(token))).toMatchObject({
      ok: false,
      status: 401,
      description: 'the token has expired',
    });
  });

  it('a token not yet valid (issued in the future) is refused', async () => {
    const { token } = await issueToken(keys, {
      subject: 'a',
      audience: aud,
      scopes: ['mcp'],
      ttlSeconds: 60,
      now: T0 + 600,
    });
    expect((await verifier(T0).check(bearer(token))).ok).toBe(false);
  });

  it('tokens signed by another key, unsigned (alg none) or with another algorithm are refused', async () => {
    const other = signingKeysFromSeed(randomBytes(32));
    const { token: foreign } = await issueToken(other, {
      subject: 'a',
      audience: aud,
      scopes: ['mcp'],
      ttlSeconds: 60,
      now: T0,
    });
    const none = new UnsecuredJWT({ scope: 'mcp' })
      .setIssuer('warden')
      .setAudience(aud)
      .setSubject('a')
      .setIssuedAt(T0)
      .setExpirationTime(T0 + 60)
      .setJti('x')
      .encode();
    const hs = await new SignJWT({ scope: 'mcp' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('warden')
      .setAudience(aud)
      .setSubject('a')
      .setIssuedAt(T0)
      .setExpirationTime(T0 + 60)
      .setJti('x')
      .sign(new Uint8Array(32));
    for (const token of [foreign, none, hs])
      expect(await verifier(T0).check(bearer(token))).toMatchObject({ ok: false, status: 401 });
  });

  it('a token tampered with (scope widened) fails its signature', async () => {
    const { token } = await issueToken(keys, {
      subject: 'a',
      audience: aud,
      scopes: ['read'],
      ttlSeconds: 60,
      now: T0,
    });
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...payload, scope: 'mcp' })).toString('base64url');
    expect(await verifier(T0).check(bearer(`${h}.${widened}.${s}`))).toMatchObject({ ok: false, status: 401 });
  });

  it.each([undefined, '', 'Basic abc', 'Bearer', 'Bearer a b', `Bearer ${'x'.repeat(5000)}`, 'bearer abc.def.ghi'])(
    'a missing or malformed Authorization header (%j) is 401',
    async (header) => {
      expect(await verifier(T0).check(header)).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    },
  );

  it('refuses to issue what it would not accept', async () => {
    await expect(
      issueToken(keys, { subject: 'bad name', audience: aud, scopes: ['mcp'], ttlSeconds: 60 }),
    ).rejects.toThrow(/agent name/);
    await expect(
      issueToken(keys, { subject: 'a', audience: aud, scopes: ['MCP scope'], ttlSeconds: 60 }),
    ).rejects.toThrow(/scope/);
    await expect(
      issueToken(keys, { subject: 'a', audience: aud, scopes: ['mcp'], ttlSeconds: 25 * 3600 }),
    ).rejects.toThrow(/24 h/);
  });

  it('the same seed gives the same keys (tokens survive a restart); another seed does not verify them', async () => {
    const again = signingKeysFromSeed(Buffer.alloc(32, 7));
    expect(again.kid).toBe(keys.kid);
    const { token } = await issueToken(again, {
      subject: 'a',
      audience: aud,
      scopes: ['mcp'],
      ttlSeconds: 60,
      now: T0,
    });
    expect((await verifier(T0).check(bearer(token))).ok).toBe(true);
  });
});
