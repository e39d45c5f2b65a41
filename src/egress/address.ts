/**
 * Which resolved addresses the proxy may connect to without an explicit `address` entry (NET-07).
 *
 * The rule is "globally routable unicast only". Everything else — loopback, RFC 1918, CGNAT,
 * link-local (which holds the 169.254.169.254 cloud metadata service), unique-local, multicast,
 * broadcast, unspecified, documentation/benchmark/reserved blocks — is refused, because an
 * allowed *name* must not become a way to reach the host, the LAN or the cloud control plane.
 * IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo, SIIT) are judged by the IPv4
 * address they carry; the deprecated IPv4-compatible `::a.b.c.d` form is refused outright.
 */
import ipaddr from 'ipaddr.js';

/** Why an address is not globally routable: ipaddr.js's range name, or our own label. */
export type AddressVerdict = { readonly global: true } | { readonly global: false; readonly range: string };

const GLOBAL: AddressVerdict = Object.freeze({ global: true });

/**
 * Classifies a canonical IP address (as produced by `canonicalAddress`). Unparsable input is
 * reported as not global, so a caller that forgets to validate still fails closed.
 */
export function classifyAddress(address: string): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return { global: false, range: 'invalid' };
  }
  if (parsed.kind() === 'ipv4') return classifyV4(parsed as ipaddr.IPv4);
  return classifyV6(parsed as ipaddr.IPv6);
}

function classifyV4(addr: ipaddr.IPv4): AddressVerdict {
  const range = addr.range();
  return range === 'unicast' ? GLOBAL : { global: false, range };
}

function v4From(parts: readonly number[], hiIndex: number): ipaddr.IPv4 {
  const hi = parts[hiIndex] ?? 0;
  const lo = parts[hiIndex + 1] ?? 0;
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function embedded(outer: string, inner: ipaddr.IPv4): AddressVerdict {
  const verdict = classifyV4(inner);
  return verdict.global ? GLOBAL : { global: false, range: `${outer} embedding ${verdict.range} ${inner.toString()}` };
}

function classifyV6(addr: ipaddr.IPv6): AddressVerdict {
  if (addr.isIPv4MappedAddress()) return embedded('ipv4Mapped', addr.toIPv4Address());
  const parts = addr.parts;
  const range: string = addr.range();
  if (range === 'rfc6145') return embedded(range, v4From(parts, 6));
  if (range === 'rfc6052') {
    // Only the well-known NAT64 prefix 64:ff9b::/96 carries a routable IPv4 address in its last
    // 32 bits; the local-use prefix 64:ff9b:1::/48 is site-specific, so it is refused.
    if (parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0)
      return embedded('nat64', v4From(parts, 6));
    return { global: false, range: 'nat64 local-use' };
  }
  if (range === '6to4') return embedded(range, v4From(parts, 1));
  if (range === 'teredo') {
    // Teredo carries the server address in bits 32..63 and the client address, inverted, in
    // the last 32 bits; either could point inside.
    const server = embedded('teredo server', v4From(parts, 2));
    if (!server.global) return server;
    const hi = (parts[6] ?? 0) ^ 0xffff;
    const lo = (parts[7] ?? 0) ^ 0xffff;
    return embedded('teredo client', new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]));
  }
  if (range === 'unicast') {
    // ipaddr.js calls anything it has no name for "unicast", including the rest of ::/8
    // (e.g. the IPv4-compatible ::127.0.0.1) and unassigned space outside 2000::/3. Only
    // 2000::/3 is allocated as global unicast today.
    if (((parts[0] ?? 0) & 0xe000) !== 0x2000) return { global: false, range: 'not in 2000::/3' };
    return GLOBAL;
  }
  return { global: false, range };
}
