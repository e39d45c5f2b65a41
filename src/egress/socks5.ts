/**
 * SOCKS5 (RFC 1928) with username/password authentication (RFC 1929), CONNECT only — for
 * clients configured with `ALL_PROXY=socks5h://warden:<credential>@127.0.0.1:3128`.
 *
 * The parsers here are pure functions over the bytes received so far: each answers "need more",
 * "bad" or a parsed message with how many bytes it used, and never throws. {@link ByteReader}
 * feeds them from a socket with a byte cap and a deadline.
 */
import type { Socket } from 'node:net';
import ipaddr from 'ipaddr.js';

/** SOCKS5 reply codes (RFC 1928 §6). */
export const SocksReply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** The commands a request may carry. */
export const SocksCommand = { connect: 0x01, bind: 0x02, udpAssociate: 0x03 } as const;

/** Method selection reply: username/password (0x02), or no acceptable method (0xff). */
export const METHOD_USER_PASS = Buffer.from([0x05, 0x02]);
export const METHOD_NONE_ACCEPTABLE = Buffer.from([0x05, 0xff]);
/** RFC 1929 status replies. */
export const AUTH_OK = Buffer.from([0x01, 0x00]);
export const AUTH_FAILED = Buffer.from([0x01, 0x01]);

/** A parser's answer. */
export type Parsed<T> =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'bad'; readonly detail: string; readonly reply?: number }
  | ({ readonly kind: 'ok'; readonly consumed: number } & T);

const NEED_MORE = Object.freeze({ kind: 'need_more' as const });

/** Parses the greeting: VER=5, NMETHODS, METHODS. */
export function parseGreeting(b: Uint8Array): Parsed<{ readonly offersUserPassword: boolean }> {
  if (b.length < 2) return NEED_MORE;
  if (b[0] !== 0x05) return { kind: 'bad', detail: 'not a SOCKS5 greeting' };
  const count = b[1] ?? 0;
  if (count === 0) return { kind: 'bad', detail: 'SOCKS5 greeting offers no methods' };
  if (b.length < 2 + count) return NEED_MORE;
  let offersUserPassword = false;
  for (let i = 2; i < 2 + count; i++) if (b[i] === 0x02) offersUserPassword = true;
  return { kind: 'ok', consumed: 2 + count, offersUserPassword };
}

/** Parses an RFC 1929 username/password request: VER=1, ULEN, UNAME, PLEN, PASSWD. */
export function parseUserPassword(b: Uint8Array): Parsed<{ readonly user: Uint8Array; readonly password: Uint8Array }> {
  if (b.length < 2) return NEED_MORE;
  if (b[0] !== 0x01) return { kind: 'bad', detail: 'bad username/password version' };
  const userLength = b[1] ?? 0;
  if (b.length < 2 + userLength + 1) return NEED_MORE;
  const passwordLength = b[2 + userLength] ?? 0;
  const end = 3 + userLength + passwordLength;
  if (b.length < end) return NEED_MORE;
  return { kind: 'ok', consumed: end, user: b.subarray(2, 2 + userLength), password: b.subarray(3 + userLength, end) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A parsed request: the command and the destination as the client named it. */
export interface SocksRequest {
  readonly command: number;
  /** Domain name (decoded UTF-8) or IP literal text. */
  readonly host: string;
  readonly port: number;
}

/** Parses a request: VER=5, CMD, RSV=0, ATYP, DST.ADDR, DST.PORT. */
export function parseRequest(b: Uint8Array): Parsed<SocksRequest> {
  if (b.length < 4) return NEED_MORE;
  if (b[0] !== 0x05) return { kind: 'bad', detail: 'bad SOCKS5 request version', reply: SocksReply.generalFailure };
  if (b[2] !== 0x00)
    return { kind: 'bad', detail: 'SOCKS5 reserved byte is not zero', reply: SocksReply.generalFailure };
  const command = b[1] ?? 0;
  let host: string;
  let p: number;
  const addressType: number = b[3] ?? 0;
  switch (addressType) {
    case 0x01: {
      if (b.length < 10) return NEED_MORE;
      host = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`;
      p = 8;
      break;
    }
    case 0x03: {
      if (b.length < 5) return NEED_MORE;
      const length = b[4] ?? 0;
      if (length === 0) return { kind: 'bad', detail: 'empty SOCKS5 domain name', reply: SocksReply.generalFailure };
      if (b.length < 5 + length + 2) return NEED_MORE;
      try {
        host = utf8.decode(b.subarray(5, 5 + length));
      } catch {
        return { kind: 'bad', detail: 'SOCKS5 domain name is not valid UTF-8', reply: SocksReply.generalFailure };
      }
      p = 5 + length;
      break;
    }
    case 0x04: {
      if (b.length < 22) return NEED_MORE;
      host = ipaddr.fromByteArray(Array.from(b.subarray(4, 20))).toString();
      p = 20;
      break;
    }
    default:
      return { kind: 'bad', detail: 'unknown SOCKS5 address type', reply: SocksReply.addressTypeNotSupported };
  }
  const port = ((b[p] ?? 0) << 8) | (b[p + 1] ?? 0);
  return { kind: 'ok', consumed: p + 2, command, host, port };
}

/** A reply with the (meaningless inside the sandbox) bound address 0.0.0.0:0. */
export function socksReply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/** Why a {@link ByteReader} gave up. */
export type ReadFailure = 'closed' | 'timeout' | 'too_large';

/**
 * Buffers a socket's bytes and hands them to a parser until it has a message. Bounded in bytes
 * and time. Between reads the socket is paused so nothing is lost or consumed by accident.
 */
export class ByteReader {
  #buffer: Buffer;
  readonly #socket: Socket;
  readonly #maxBytes: number;
  readonly #deadline: number;

  constructor(socket: Socket, initial: Buffer, maxBytes: number, timeoutMs: number) {
    this.#socket = socket;
    this.#buffer = initial;
    this.#maxBytes = maxBytes;
    this.#deadline = Date.now() + timeoutMs;
  }

  /** Bytes received but not yet consumed by a parser. */
  rest(): Buffer {
    return this.#buffer;
  }

  /** Reads one message with `parse`, or resolves with why it could not. */
  read<T>(
    parse: (b: Uint8Array) => Parsed<T>,
  ): Promise<Exclude<Parsed<T>, { kind: 'need_more' }> | { readonly kind: 'failed'; readonly failure: ReadFailure }> {
    type Out = Exclude<Parsed<T>, { kind: 'need_more' }> | { readonly kind: 'failed'; readonly failure: ReadFailure };
    const consume = (): Out | undefined => {
      const result = parse(this.#buffer);
      if (result.kind === 'need_more')
        return this.#buffer.length > this.#maxBytes ? { kind: 'failed', failure: 'too_large' } : undefined;
      if (result.kind === 'ok') this.#buffer = this.#buffer.subarray(result.consumed);
      return result as Out;
    };
    const ready = consume();
    if (ready) return Promise.resolve(ready);
    const socket = this.#socket;
    return new Promise<Out>((resolve) => {
      const finish = (out: Out): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.off('end', onClose);
        socket.pause();
        resolve(out);
      };
      const onData = (chunk: Buffer): void => {
        this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
        const out = consume();
        if (out) finish(out);
      };
      const onClose = (): void => finish({ kind: 'failed', failure: 'closed' });
      const timer = setTimeout(
        () => finish({ kind: 'failed', failure: 'timeout' }),
        Math.max(0, this.#deadline - Date.now()),
      );
      socket.on('data', onData);
      socket.on('close', onClose);
      socket.on('end', onClose);
      socket.resume();
    });
  }
}
