// Identity: keys and short-lived tokens for agents (design.md: src/identity/).
// Adding an export here is an API decision (design.md, convention 2). Identity reads no key file:
// its caller hands it the signing keys (runtime/signing-keys.ts derives them from the installation's key).
export {
  DEFAULT_TOKEN_TTL_SECONDS,
  GATEWAY_SCOPE,
  MAX_TOKEN_TTL_SECONDS,
  TOKEN_ISSUER,
  TokenVerifier,
  gatewayAudience,
  issueToken,
  signingKeysFromSeed,
  tokenIdentity,
  type IssuedToken,
  type SigningKeys,
  type TokenCheck,
} from './tokens.js';
export { REVOCATIONS_FILE, RevocationList, revokeToken, type Revocation, type RevocationCheck } from './revocations.js';
