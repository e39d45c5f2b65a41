/**
 * A small TLS ClientHello reader: just enough to find the SNI host name a client sends at the
 * start of a CONNECT/SOCKS tunnel, so domain fronting (allowed name in CONNECT, another name in
 * TLS) can be refused (NET-05).
 *
 * The input is attacker-controlled, so the reader is strict where leniency would let the proxy
 * and the upstream server disagree about the name: duplicate extensions, more than one host name,
 * non-ASCII names or lengths that do not add up are "malformed" (the caller refuses), never
 * "no SNI". It never throws and never reads past the buffer. A ClientHello split across several
 * TLS records is reassembled.
 */

/** What the first client bytes of a tunnel are. */
export type ClientHelloResult =
  /** Not enough bytes yet to decide. */
  | { readonly kind: 'need_more' }
  /** The stream does not start with a TLS handshake record (some other protocol). */
  | { readonly kind: 'not_tls' }
  /** It starts like TLS but is not a well-formed ClientHello. */
  | { readonly kind: 'malformed'; readonly detail: string }
  /** A complete ClientHello; `serverName` is null when it carries no SNI. */
  | { readonly kind: 'client_hello'; readonly serverName: string | null };

/** Largest ClientHello handshake message accepted (header included). Real ones are < 2 KiB. */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;
/** Largest TLS record body (TLSPlaintext.length ≤ 2^14). */
const MAX_RECORD = 16 * 1024;

const NEED_MORE: ClientHelloResult = Object.freeze({ kind: 'need_more' });
const NOT_TLS: ClientHelloResult = Object.freeze({ kind: 'not_tls' });

function malformed(detail: string): ClientHelloResult {
  return { kind: 'malformed', detail };
}

/**
 * Reads the ClientHello at the start of `data` (everything the client has sent so far).
 * Call again with more bytes while it answers `need_more`; the caller bounds how much it buffers.
 */
export function parseClientHello(data: Uint8Array): ClientHelloResult {
  if (data.length === 0) return NEED_MORE;
  if (data[0] !== 0x16) return NOT_TLS;

  // Reassemble the handshake layer from consecutive handshake records.
  let handshake: Uint8Array | undefined;
  let pieces: Uint8Array[] | undefined;
  let have = 0;
  let offset = 0;
  for (;;) {
    if (data.length - offset < 5) return NEED_MORE;
    if (data[offset] !== 0x16) return malformed('non-handshake record before the ClientHello ended');
    if (data[offset + 1] !== 0x03) return malformed('unknown TLS record version');
    const recordLength = ((data[offset + 3] ?? 0) << 8) | (data[offset + 4] ?? 0);
    if (recordLength === 0 || recordLength > MAX_RECORD) return malformed('bad TLS record length');
    if (data.length - offset - 5 < recordLength) return NEED_MORE;
    const body = data.subarray(offset + 5, offset + 5 + recordLength);
    offset += 5 + recordLength;
    if (handshake === undefined) {
      handshake = body;
    } else {
      pieces ??= [handshake];
      pieces.push(body);
    }
    have += recordLength;

    const head = pieces ? concat(pieces, Math.min(have, 4)) : handshake;
    if (have >= 1 && head[0] !== 0x01) return malformed('first handshake message is not a ClientHello');
    if (have < 4) continue;
    const messageLength = ((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0);
    if (messageLength + 4 > MAX_CLIENT_HELLO_BYTES) return malformed('ClientHello is too large');
    if (have < messageLength + 4) continue;
    const whole = pieces ? concat(pieces, have) : handshake;
    return readClientHelloBody(whole.subarray(4, 4 + messageLength));
  }
}

function concat(pieces: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    if (at >= length) break;
    const take = Math.min(piece.length, length - at);
    out.set(piece.subarray(0, take), at);
    at += take;
  }
  return out;
}

function u16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

function readClientHelloBody(b: Uint8Array): ClientHelloResult {
  const end = b.length;
  // legacy_version (2) + random (32)
  let p = 34;
  if (p + 1 > end) return malformed('ClientHello truncated');
  const sessionIdLength = b[p] ?? 0;
  if (sessionIdLength > 32) return malformed('bad session id length');
  p += 1 + sessionIdLength;
  if (p + 2 > end) return malformed('ClientHello truncated');
  const suitesLength = u16(b, p);
  if (suitesLength < 2 || suitesLength % 2 !== 0) return malformed('bad cipher suites length');
  p += 2 + suitesLength;
  if (p + 1 > end) return malformed('ClientHello truncated');
  const compressionLength = b[p] ?? 0;
  if (compressionLength < 1) return malformed('bad compression methods length');
  p += 1 + compressionLength;
  if (p > end) return malformed('ClientHello truncated');
  if (p === end) return { kind: 'client_hello', serverName: null };
  if (p + 2 > end) return malformed('ClientHello truncated');
  const extensionsLength = u16(b, p);
  p += 2;
  if (p + extensionsLength !== end) return malformed('extensions length does not match the ClientHello');

  const seen = new Set<number>();
  let serverName: string | null = null;
  while (p < end) {
    if (p + 4 > end) return malformed('extension header truncated');
    const type = u16(b, p);
    const length = u16(b, p + 2);
    p += 4;
    if (p + length > end) return malformed('extension truncated');
    if (seen.has(type)) return malformed('duplicate extension');
    seen.add(type);
    if (type === 0) {
      const name = readServerName(b.subarray(p, p + length));
      if (typeof name !== 'string') return name;
      serverName = name;
    }
    p += length;
  }
  return { kind: 'client_hello', serverName };
}

function readServerName(ext: Uint8Array): string | ClientHelloResult {
  if (ext.length < 2) return malformed('empty server_name extension');
  const listLength = u16(ext, 0);
  if (listLength + 2 !== ext.length || listLength === 0) return malformed('server_name list length does not match');
  let p = 2;
  let name: string | undefined;
  while (p < ext.length) {
    if (p + 3 > ext.length) return malformed('server_name entry truncated');
    const nameType = ext[p] ?? 0;
    const length = u16(ext, p + 1);
    p += 3;
    if (p + length > ext.length) return malformed('server_name entry truncated');
    // RFC 6066 defines only host_name (0); anything else, or a second name, is a way to make
    // the proxy and the server read different names.
    if (nameType !== 0) return malformed('unknown server_name type');
    if (name !== undefined) return malformed('more than one server name');
    if (length === 0) return malformed('empty server name');
    let text = '';
    for (let i = p; i < p + length; i++) {
      const c = ext[i] ?? 0;
      if (c <= 0x20 || c >= 0x7f) return malformed('server name is not printable ASCII');
      text += String.fromCharCode(c);
    }
    name = text;
    p += length;
  }
  return name ?? malformed('server_name extension without a name');
}
