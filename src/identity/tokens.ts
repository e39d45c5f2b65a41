/**
 * Gateway access tokens: short-lived EdDSA JWTs (jose) that name the agent (sub), the gateway
 * they are for (aud: one profile's gateway), and what they allow (scope). `warden token issue`
 * signs them; `warden gateway --listen` verifies them on every request (GW-07): another
 * audience, a bad signature, an expired or not-yet-valid token is 401 invalid_token; a valid
 * token without the needed scope is 403 insufficient_scope. The token is the agent's alone: the
 * gateway never forwards it (upstreams are reached over their own transports, with their own
 * credentials).
 *
 * The signing key is an Ed25519 key made from a 32-byte seed the caller supplies; warden's comes
 * from the installation's audit key (runtime/signing-keys.ts), so there is no second key file to
 * protect or lose; anyone who can read the state directory can already rewrite the audit key and
 * so both are equally secret.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';

export const TOKEN_ISSUER = 'warden';
/** The scope that lets a token use a gateway's MCP endpoint. */
export const GATEWAY_SCOPE = 'mcp';
export const DEFAULT_TOKEN_TTL_SECONDS = 60 * 60;
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** A token longer than this is not one warden issued; refuse it before parsing. */
const MAX_TOKEN_CHARS = 4096;
const SUBJECT = /^[A-Za-z0-9._-]{1,64}$/;
const SCOPE = /^[a-z][a-z0-9:._-]{0,63}$/;
export const CLOCK_TOLERANCE_SECONDS = 5;
/** A token id (`jti`) as `issueToken` makes it: 16 random bytes, base64url, so 22 characters. */
export const TOKEN_ID = /^[A-Za-z0-9_-]{22}$/;

export interface SigningKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Key id (a digest of the public key), carried in the token header. */
  readonly kid: string;
}

/** The gateway audience for a profile: a token for one profile's gateway is refused by another's. */
export function gatewayAudience(profile: string): string {
  return `warden-gateway/${profile}`;
}

/** Ed25519 keys from a 32-byte seed. */
export function signingKeysFromSeed(seed: Buffer): SigningKeys {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): fixed 16-byte prefix, then the seed.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const kid = createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('base64url')
    .slice(0, 16);
  return { privateKey, publicKey, kid };
}

export interface IssueRequest {
  readonly subject: string;
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly ttlSeconds: number;
  /** Seconds since the epoch; defaults to now (tests freeze it). */
  readonly now?: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: number;
}

/** Signs a token. Throws on a request warden would refuse to verify (bad subject, scope or TTL). */
export async function issueToken(keys: SigningKeys, request: IssueRequest): Promise<IssuedToken> {
  if (!SUBJECT.test(request.subject))
    throw new Error(`agent name '${request.subject}' is not valid (letters, digits, . _ -, at most 64)`);
  for (const scope of request.scopes)
    if (!SCOPE.test(scope)) throw new Error(`scope '${scope}' is not valid (lower-case letters, digits, : . _ -)`);
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new Error(`a token lives 1 s to ${MAX_TOKEN_TTL_SECONDS / 3600} h`);
  }
  const now = request.now ?? Math.floor(Date.now() / 1000);
  const jti = randomBytes(16).toString('base64url'); // TOKEN_ID
  const expiresAt = now + request.ttlSeconds;
  const token = await new SignJWT({ scope: [...new Set(request.scopes)].join(' ') })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: keys.kid })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(request.audience)
    .setSubject(request.subject)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(keys.privateKey);
  return { token, jti, expiresAt };
}

export type TokenCheck =
  | {
      readonly ok: true;
      readonly subject: string;
      readonly scopes: readonly string[];
      readonly expiresAt: number;
      readonly jti: string;
    }
  | {
      readonly ok: false;
      readonly status: 401 | 403;
      readonly error: 'invalid_token' | 'insufficient_scope';
      readonly description: string;
    };

export interface VerifyOptions {
  readonly audience: string;
  readonly requiredScope: string;
  /** Seconds since the epoch; defaults to now. */
  readonly now?: () => number;
  /** Verified tokens remembered until they expire (EdDSA verify costs ~160 µs). */
  readonly cacheSize?: number;
  /** Revoked token ids (see revocations.ts), asked on every check, cached token or not. */
  readonly revocations?: {
    check(jti: string): { readonly revoked: false } | { readonly revoked: true; readonly why: string };
  };
}

/** Verifies `Authorization: Bearer <jwt>` headers for one gateway; caches good tokens until expiry. */
export class TokenVerifier {
  readonly #keys: SigningKeys;
  readonly #options: VerifyOptions;
  readonly #cache = new Map<string, { subject: string; scopes: readonly string[]; expiresAt: number; jti: string }>();

  constructor(keys: SigningKeys, options: VerifyOptions) {
    this.#keys = keys;
    this.#options = options;
  }

  async check(authorization: string | undefined): Promise<TokenCheck> {
    const now = this.#options.now?.() ?? Math.floor(Date.now() / 1000);
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization ?? '');
    if (match === null) return invalid('a bearer token is required (warden token issue)');
    const token = match[1] ?? '';
    if (token.length > MAX_TOKEN_CHARS) return invalid('the token is too long');
    let claims = this.#cache.get(token);
    if (claims !== undefined && claims.expiresAt + CLOCK_TOLERANCE_SECONDS <= now) {
      this.#cache.delete(token);
      return invalid('the token has expired');
    }
    if (claims === undefined) {
      const verified = await this.#verify(token, now);
      if (!verified.ok) return verified;
      claims = verified;
      if (this.#cache.size >= (this.#options.cacheSize ?? 1024))
        this.#cache.delete(this.#cache.keys().next().value ?? '');
      this.#cache.set(token, claims);
    }
    const revocation = this.#options.revocations?.check(claims.jti);
    if (revocation?.revoked === true) return invalid(revocation.why);
    if (!claims.scopes.includes(this.#options.requiredScope)) {
      return {
        ok: false,
        status: 403,
        error: 'insufficient_scope',
        description: `the token lacks the '${this.#options.requiredScope}' scope`,
      };
    }
    return { ok: true, ...claims };
  }

  async #verify(token: string, now: number): Promise<TokenCheck> {
    try {
      const { payload } = await jwtVerify(token, this.#keys.publicKey, {
        algorithms: ['EdDSA'],
        issuer: TOKEN_ISSUER,
        audience: this.#options.audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now * 1000),
        maxTokenAge: MAX_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS,
      });
      const subject = payload.sub ?? '';
      if (!SUBJECT.test(subject)) return invalid('the token names no valid agent');
      const scope = typeof payload['scope'] === 'string' ? payload['scope'] : '';
      return {
        ok: true,
        subject,
        scopes: scope.split(' ').filter((s) => s !== ''),
        expiresAt: payload.exp ?? 0,
        jti: payload.jti ?? '',
      };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return invalid('the token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud')
        return invalid(`the token is for another audience (this gateway is ${this.#options.audience})`);
      if (error instanceof joseErrors.JWTClaimValidationFailed)
        return invalid(`the token's ${error.claim} claim is not valid`);
      return invalid('the token is not valid (bad signature, format or algorithm)');
    }
  }
}

function invalid(description: string): TokenCheck {
  return { ok: false, status: 401, error: 'invalid_token', description };
}

/**
 * The id and expiry of a token this installation signed (signature checked; expiry and audience
 * not: an expired or other-gateway token may still be revoked). Null when it is not one of ours.
 */
export async function tokenIdentity(
  token: string,
  keys: SigningKeys,
): Promise<{ readonly jti: string; readonly exp: number; readonly subject: string } | null> {
  if (token.length > MAX_TOKEN_CHARS) return null;
  try {
    // Checked as of the moment it became valid, so that expiry does not matter (the signature does).
    const claimed = decodeJwt(token);
    const validFrom = typeof claimed.nbf === 'number' ? claimed.nbf : typeof claimed.iat === 'number' ? claimed.iat : 0;
    const { payload } = await jwtVerify(token, keys.publicKey, {
      algorithms: ['EdDSA'],
      issuer: TOKEN_ISSUER,
      currentDate: new Date(validFrom * 1000),
      requiredClaims: ['jti', 'exp', 'sub'],
    });
    return typeof payload.jti === 'string' && typeof payload.exp === 'number'
      ? { jti: payload.jti, exp: payload.exp, subject: payload.sub ?? '' }
      : null;
  } catch {
    return null;
  }
}
