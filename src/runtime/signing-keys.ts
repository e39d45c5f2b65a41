/**
 * The installation's gateway token signing keys. Identity reads no key file of its own (it sits
 * below the audit layer): the Ed25519 seed is the audit key's derived key for one purpose
 * (audit/derived-key.ts), so there is no second key file to protect or lose. The purpose text is
 * part of the key: changing it would invalidate every token already issued.
 */
import { derivedKey } from '../audit/index.js';
import { signingKeysFromSeed, type SigningKeys } from '../identity/index.js';

const TOKEN_SIGNING_PURPOSE = 'gateway token signing (Ed25519 seed)';

/** The token signing keys of the installation whose state directory is `stateDir`. */
export function gatewaySigningKeys(stateDir: string): SigningKeys {
  return signingKeysFromSeed(derivedKey(stateDir, TOKEN_SIGNING_PURPOSE));
}
