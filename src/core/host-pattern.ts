/**
 * Egress allow-list entries and host-name normalisation (NET-06, NET-08).
 *
 * Entry syntax (one per allow-list item):
 *   api.example.com          exact host, ports 80 and 443
 *   api.example.com:8443     exact host, that port only
 *   api.example.com:*        exact host, any port
 *   *.example.com            any subdomain (at any depth) of example.com, NOT example.com itself
 *   203.0.113.7[:port|:*]    an exact IPv4 address
 *   [2001:db8::7][:port|:*]  an exact IPv6 address
 *
 * Everything is normalised before it is compared: lower case, no trailing dot, IDN to punycode,
 * IPv4 in dotted-decimal (so `0x7f.1` and `2130706433` become `127.0.0.1`), IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`) to plain IPv4.
 */
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

export type PortRule = 'web' | 'any' | number;

export interface HostPattern {
  /** The entry as written. */
  readonly text: string;
  readonly kind: 'exact' | 'wildcard' | 'address';
  /** Normalised host; for `wildcard` the base domain without `*.`; for `address` the canonical IP. */
  readonly host: string;
  readonly ports: PortRule;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** The ports an entry without an explicit port allows. */
export const WEB_PORTS: readonly number[] = [80, 443];

const MAX_HOST_LENGTH = 253;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A parsed host: a DNS name or an IP literal, normalised. */
export type NormalisedHost =
  | { readonly kind: 'name'; readonly host: string }
  | { readonly kind: 'ip'; readonly host: string; readonly version: 4 | 6 };

/**
 * Normalises a host as a client wrote it (from a URL, a CONNECT authority, a SOCKS request or a
 * TLS SNI). Returns a reason when the host is not something the proxy should ever connect to.
 */
export function normaliseHost(raw: string): ParseResult<NormalisedHost> {
  if (raw.length === 0 || raw.length > MAX_HOST_LENGTH + 2) return { ok: false, reason: 'host is empty or too long' };
  // Control characters, spaces, userinfo and path characters never belong in a host.
  if (/[\s\x00-\x1f\x7f@/\\?#%]/.test(raw))
    return { ok: false, reason: 'host contains characters that are not allowed' };

  let host = raw;
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    // Brackets mark an IPv6 literal only; '[example.com]' or '[127.0.0.1]' is not a host (NET-06).
    if (!host.includes(':')) return { ok: false, reason: 'brackets are only for IPv6 addresses' };
  }
  if (host.includes(':')) {
    if (!ipaddr.IPv6.isValid(host)) return { ok: false, reason: 'not a valid IPv6 address' };
    return { ok: true, value: canonicalIp(ipaddr.IPv6.parse(host)) };
  }

  // WHATWG host parsing turns every IPv4 spelling (octal, hex, short, decimal) into dotted decimal
  // and IDN into punycode; we reuse it rather than hand-parse those forms.
  let ascii: string;
  try {
    ascii = new URL(`http://${host}/`).hostname;
  } catch {
    return { ok: false, reason: 'not a valid host name' };
  }
  if (ascii.startsWith('[')) return { ok: true, value: canonicalIp(ipaddr.IPv6.parse(ascii.slice(1, -1))) };
  if (ipaddr.IPv4.isValidFourPartDecimal(ascii)) return { ok: true, value: canonicalIp(ipaddr.IPv4.parse(ascii)) };

  ascii = domainToASCII(ascii).toLowerCase();
  if (ascii.endsWith('.')) ascii = ascii.slice(0, -1);
  if (ascii.length === 0 || ascii.length > MAX_HOST_LENGTH) return { ok: false, reason: 'not a valid host name' };
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l))) return { ok: false, reason: 'not a valid host name' };
  // A name whose last label is all digits would be read as an IPv4 address by some clients.
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return { ok: false, reason: 'not a valid host name' };
  return { ok: true, value: { kind: 'name', host: ascii } };
}

function canonicalIp(addr: ipaddr.IPv4 | ipaddr.IPv6): NormalisedHost {
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return { kind: 'ip', host: v6.toIPv4Address().toString(), version: 4 };
    return { kind: 'ip', host: v6.toString(), version: 6 };
  }
  return { kind: 'ip', host: addr.toString(), version: 4 };
}

/** Canonical text of an IP address (as the proxy compares them). */
export function canonicalAddress(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.parse(address);
  return canonicalIp(parsed).host;
}

/** Parses one allow-list entry. Rejects entries that are too broad to be a boundary (NET-08). */
export function parseHostPattern(text: string): ParseResult<HostPattern> {
  if (text.length === 0 || text.length > 300)
    return { ok: false, reason: 'entry is empty or longer than 300 characters' };
  let rest = text.trim();
  if (rest !== text) return { ok: false, reason: 'entry has leading or trailing spaces' };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest))
    return { ok: false, reason: 'write a host, not a URL (drop the scheme and path)' };

  let ports: PortRule = 'web';
  const portMatch = /^(.*?)(?::(\*|\d{1,5}))?$/.exec(rest);
  // IPv6 literals must be bracketed so the port is unambiguous.
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return { ok: false, reason: 'unterminated [IPv6] literal' };
    // Brackets are for IPv6 literals only: '[example.com]' or '[127.0.0.1]:80' would otherwise be
    // read as the name or address inside, a second spelling the allow-list never meant (NET-06).
    if (!ipaddr.IPv6.isValid(rest.slice(1, close)))
      return {
        ok: false,
        reason: 'brackets are only for IPv6 addresses; write a host name or IPv4 address without them',
      };
    const after = rest.slice(close + 1);
    if (after !== '' && !/^:(\*|\d{1,5})$/.test(after))
      return { ok: false, reason: 'expected :PORT or :* after the [IPv6] literal' };
    if (after !== '') ports = after === ':*' ? 'any' : Number(after.slice(1));
    rest = rest.slice(0, close + 1);
  } else if (portMatch && portMatch[2] !== undefined) {
    if ((portMatch[1] ?? '').includes(':'))
      return { ok: false, reason: 'IPv6 addresses must be written in brackets, e.g. [2001:db8::1]:443' };
    ports = portMatch[2] === '*' ? 'any' : Number(portMatch[2]);
    rest = portMatch[1] ?? '';
  } else if (rest.includes(':')) {
    if (ipaddr.IPv6.isValid(rest))
      return { ok: false, reason: 'IPv6 addresses must be written in brackets, e.g. [2001:db8::1]:443' };
    return { ok: false, reason: "the port must be a number from 1 to 65535, or '*' for any port" };
  }
  if (typeof ports === 'number' && (ports < 1 || ports > 65535))
    return { ok: false, reason: 'port must be between 1 and 65535' };

  if (rest === '*' || rest === '*.*' || rest === '**')
    return { ok: false, reason: "'*' would allow every host; list the domains the task needs" };

  if (rest.startsWith('*.')) {
    const base = rest.slice(2);
    if (base.includes('*')) return { ok: false, reason: "only one leading '*.' is allowed, e.g. '*.example.com'" };
    const norm = normaliseHost(base);
    if (!norm.ok) return { ok: false, reason: `wildcard base: ${norm.reason}` };
    if (norm.value.kind === 'ip') return { ok: false, reason: 'wildcards apply to domain names, not IP addresses' };
    // A single-label base ('*.com', '*.internal') is always too broad. Multi-label public
    // suffixes ('*.co.uk') are caught by wildcardBreadthProblem, which config validation adds.
    if (!norm.value.host.includes('.')) {
      return {
        ok: false,
        reason: `'*.${norm.value.host}' covers a whole top-level domain; name the registrable domain, e.g. '*.example.${norm.value.host}'`,
      };
    }
    return { ok: true, value: { text, kind: 'wildcard', host: norm.value.host, ports } };
  }
  if (rest.includes('*'))
    return { ok: false, reason: "'*' is only allowed as a leading '*.' label, e.g. '*.example.com'" };

  const norm = normaliseHost(rest);
  if (!norm.ok) return { ok: false, reason: norm.reason };
  if (norm.value.kind === 'ip') {
    if (norm.value.host === '0.0.0.0' || norm.value.host === '::')
      return { ok: false, reason: 'the unspecified address is not a destination' };
    return { ok: true, value: { text, kind: 'address', host: norm.value.host, ports } };
  }
  return { ok: true, value: { text, kind: 'exact', host: norm.value.host, ports } };
}

/** Whether `port` satisfies a pattern's port rule ('web' is 80 and 443). */
export function portAllowed(rule: PortRule, port: number): boolean {
  if (rule === 'any') return true;
  if (rule === 'web') return WEB_PORTS.includes(port);
  return rule === port;
}

/** Whether a normalised host name (not an IP) is covered by the pattern's host part, ignoring ports. */
export function hostMatches(pattern: HostPattern, host: string): boolean {
  switch (pattern.kind) {
    case 'exact':
    case 'address':
      return pattern.host === host;
    case 'wildcard':
      return host.length > pattern.host.length + 1 && host.endsWith(`.${pattern.host}`);
  }
}

/** Whether the pattern allows `host:port` (host already normalised). */
export function patternAllows(pattern: HostPattern, host: string, port: number): boolean {
  return hostMatches(pattern, host) && portAllowed(pattern.ports, port);
}
