/**
 * The run's proxy credential (NET-09). Only processes given the credential — the sandboxed agent,
 * through its proxy URL — may use the proxy; anything else on the host that reaches the socket
 * gets 407 (HTTP) or an RFC 1929 failure (SOCKS5).
 *
 * Comparison runs over SHA-256 digests with `timingSafeEqual`, so neither the time taken nor a
 * length mismatch tells a guesser anything about the secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The only user name accepted, in both HTTP Basic and SOCKS5 username/password. */
export const PROXY_USER = 'warden';

/** Result of checking a client's credential. `missing` vs `wrong` is kept for the audit detail. */
export type CredentialCheck = 'ok' | 'missing' | 'wrong';

const BASIC = /^[Bb][Aa][Ss][Ii][Cc] +([A-Za-z0-9+/]{1,1024}={0,2}) *$/;
const USER_BYTES = Buffer.from(PROXY_USER, 'utf8');

function digest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Holds the credential's digest (never the text) and checks what clients present. */
export class ProxyCredential {
  readonly #digest: Buffer;

  /**
   * @param credential the run's secret; 1 to 255 bytes of printable ASCII (SOCKS5 caps passwords at 255)
   * @throws TypeError when the credential cannot be used (the message never contains it)
   */
  constructor(credential: string) {
    if (typeof credential !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(credential)) {
      throw new TypeError('egress proxy credential must be 1 to 255 printable ASCII characters without spaces');
    }
    this.#digest = digest(Buffer.from(credential, 'utf8'));
  }

  /** Checks a password (and user name) as raw bytes from the wire. */
  checkUserPassword(user: Uint8Array, password: Uint8Array): boolean {
    // Always hash and compare, even when the user name is wrong, so timing does not say which failed.
    const passwordOk = timingSafeEqual(digest(password), this.#digest);
    return passwordOk && user.length === USER_BYTES.length && USER_BYTES.equals(user);
  }

  /** Checks a `Proxy-Authorization` header value (`Basic base64(warden:<credential>)`). */
  checkBasic(header: string | undefined): CredentialCheck {
    if (header === undefined || header.length === 0) return 'missing';
    const match = BASIC.exec(header);
    if (!match) return 'wrong';
    const decoded = Buffer.from(match[1] ?? '', 'base64');
    const colon = decoded.indexOf(0x3a);
    if (colon < 0) return 'wrong';
    return this.checkUserPassword(decoded.subarray(0, colon), decoded.subarray(colon + 1)) ? 'ok' : 'wrong';
  }
}

/**
 * Lets at most `perSecond` events through per one-second window and counts the rest, so a
 * flood of failed logins cannot fill the audit log; the next event that passes reports how
 * many were folded into it.
 */
export class EventRateLimiter {
  readonly #perSecond: number;
  readonly #now: () => number;
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;

  constructor(perSecond: number, now: () => number = Date.now) {
    this.#perSecond = perSecond;
    this.#now = now;
  }

  /** Returns `undefined` when the event must be dropped, else how many were dropped before it. */
  take(): number | undefined {
    const now = this.#now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#perSecond) {
      this.#suppressed++;
      return undefined;
    }
    this.#inWindow++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed;
  }
}
