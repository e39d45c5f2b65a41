// Identity: keys and short-lived tokens for agents (design.md: src/identity/).
// Adding an export here is an API decision (design.md, convention 2).
import { derivedKey } from '../audit/index.js';
import { signingKeysFromSeed, type SigningKeys } from './tokens.js';

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

/** The installation's token signing keys (derived from the audit key in `stateDir`). */
export function gatewaySigningKeys(stateDir: string): SigningKeys {
  return signingKeysFromSeed(derivedKey(stateDir, 'gateway token signing (Ed25519 seed)'));
}
