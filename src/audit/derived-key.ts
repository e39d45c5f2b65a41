/**
 * Purpose-bound keys derived from the audit key (HMAC-SHA256 of the purpose), so features that
 * need a stable secret per installation — e.g. digests of sensitive tool arguments (AUD-05) —
 * do not each keep a key file of their own, and no derived key can be turned back into another.
 */
import { createHmac } from 'node:crypto';
import { loadOrCreateKey } from './head.js';

export function derivedKey(stateDir: string, purpose: string): Buffer {
  return createHmac('sha256', loadOrCreateKey(stateDir)).update(`warden derived key: ${purpose}`).digest();
}
