/**
 * Parsing of `host[:port]` as clients send it in CONNECT request targets and `Host` headers.
 *
 * Deliberately stricter than URL parsing: userinfo (`allowed.com@evil.com:443`) is refused rather
 * than interpreted, because proxies and servers have disagreed about which side of the `@` is
 * the host (NET-06). The host part is only split off here; `normaliseHost` judges it.
 */

/** A split authority. `host` is raw (brackets removed for IPv6); the port is validated. */
export type Authority =
  { readonly ok: true; readonly host: string; readonly port: number } | { readonly ok: false; readonly reason: string };

/** Longest authority worth looking at: a 253-octet name, brackets, colon and five digits. */
export const MAX_AUTHORITY_LENGTH = 262;

const PORT = /^[0-9]{1,5}$/;

/**
 * Splits `host:port`, `[v6]:port` (and, when `defaultPort` is given, a bare host). Never throws.
 * @param text the authority exactly as received
 * @param defaultPort the port to use when none is written; `undefined` makes the port mandatory
 */
export function parseAuthority(text: string, defaultPort?: number): Authority {
  if (text.length === 0 || text.length > MAX_AUTHORITY_LENGTH)
    return { ok: false, reason: 'target is empty or too long' };
  if (text.includes('@')) return { ok: false, reason: 'userinfo (user@host) is not allowed in a proxy target' };
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, reason: 'unterminated [IPv6] literal' };
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { ok: false, reason: 'unexpected text after the [IPv6] literal' };
      portText = rest.slice(1);
    }
    if (host.length === 0) return { ok: false, reason: 'empty IPv6 literal' };
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0) {
      if (text.indexOf(':', colon + 1) >= 0)
        return { ok: false, reason: 'IPv6 targets must be written in brackets, e.g. [2001:db8::1]:443' };
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    } else {
      host = text;
    }
  }
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) return { ok: false, reason: 'the target needs a port, e.g. example.com:443' };
    port = defaultPort;
  } else {
    if (!PORT.test(portText)) return { ok: false, reason: 'the port must be a number from 1 to 65535' };
    port = Number(portText);
    if (port < 1 || port > 65535) return { ok: false, reason: 'the port must be a number from 1 to 65535' };
  }
  if (host.length === 0) return { ok: false, reason: 'the target has no host' };
  return { ok: true, host, port };
}
