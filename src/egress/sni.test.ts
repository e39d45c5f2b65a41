import fc from 'fast-check';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseClientHello } from './sni.js';

/** Captures the first bytes a real Node TLS client sends. */
async function realClientHello(servername: string | undefined): Promise<Buffer> {
  const server = createServer();
  const first = new Promise<Buffer>((resolve) => {
    server.on('connection', (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          resolve(all);
          socket.destroy();
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tlsConnect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    rejectUnauthorized: false,
    ...(servername === undefined ? {} : { servername }),
  });
  client.on('error', () => undefined);
  const hello = await first;
  client.destroy();
  server.close();
  return hello;
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);

function sniExtension(names: readonly Buffer[], nameType = 0): Buffer {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([nameType]), u16(n.length), n])));
  const body = Buffer.concat([u16(list.length), list]);
  return Buffer.concat([u16(0), u16(body.length), body]);
}

/** A synthetic ClientHello handshake message with the given extensions. */
function helloMessage(extensions: readonly Buffer[]): Buffer {
  const ext = Buffer.concat(extensions);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    u16(2),
    Buffer.from([0x13, 0x01]),
    Buffer.from([1, 0]),
    u16(ext.length),
    ext,
  ]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

function record(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(payload.length), payload]);
}

describe('parseClientHello', () => {
  let withSni: Buffer;
  let withoutSni: Buffer;
  beforeAll(async () => {
    withSni = await realClientHello('allowed.test');
    withoutSni = await realClientHello(undefined);
  });

  it('reads the SNI of a real Node TLS ClientHello', () => {
    expect(parseClientHello(withSni)).toEqual({ kind: 'client_hello', serverName: 'allowed.test' });
  });

  it('reports no SNI when the client sends none', () => {
    expect(parseClientHello(withoutSni)).toEqual({ kind: 'client_hello', serverName: null });
  });

  it('asks for more at every truncation point of a real ClientHello', () => {
    for (let n = 0; n < withSni.length; n++) expect(parseClientHello(withSni.subarray(0, n)).kind).toBe('need_more');
  });

  it('reassembles a ClientHello split across TLS records (any split point)', () => {
    const message = withSni.subarray(5);
    for (let cut = 1; cut < message.length; cut += 7) {
      const split = Buffer.concat([record(message.subarray(0, cut)), record(message.subarray(cut))]);
      expect(parseClientHello(split)).toEqual({ kind: 'client_hello', serverName: 'allowed.test' });
    }
    const oneByteRecords = Buffer.concat(
      [...message.subarray(0, 60)].map((b) => record(Buffer.from([b]))).concat(record(message.subarray(60))),
    );
    expect(parseClientHello(oneByteRecords)).toEqual({ kind: 'client_hello', serverName: 'allowed.test' });
  });

  it('ignores bytes after the ClientHello', () => {
    expect(parseClientHello(Buffer.concat([withSni, Buffer.from('trailing')]))).toEqual({
      kind: 'client_hello',
      serverName: 'allowed.test',
    });
  });

  it('says not_tls for other protocols', () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ kind: 'not_tls' });
    expect(parseClientHello(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toEqual({ kind: 'not_tls' });
    expect(parseClientHello(Buffer.alloc(0))).toEqual({ kind: 'need_more' });
  });

  it('refuses the ambiguous forms a fronting client could use to confuse the check', () => {
    const name = Buffer.from('allowed.test');
    const evil = Buffer.from('evil.test');
    const kind = (extensions: Buffer[]): string => {
      const r = parseClientHello(record(helloMessage(extensions)));
      return r.kind === 'malformed'
        ? `malformed: ${r.detail}`
        : r.kind === 'client_hello'
          ? `sni ${r.serverName}`
          : r.kind;
    };
    expect(kind([sniExtension([name])])).toBe('sni allowed.test');
    expect(kind([sniExtension([name]), sniExtension([evil])])).toBe('malformed: duplicate extension');
    expect(kind([sniExtension([name, evil])])).toBe('malformed: more than one server name');
    expect(kind([sniExtension([name], 1)])).toBe('malformed: unknown server_name type');
    expect(kind([sniExtension([Buffer.from('allowed.test\u0000.evil')])])).toBe(
      'malformed: server name is not printable ASCII',
    );
    expect(kind([sniExtension([Buffer.from('bücher.test')])])).toBe('malformed: server name is not printable ASCII');
    expect(kind([sniExtension([Buffer.alloc(0)])])).toBe('malformed: empty server name');
    expect(kind([Buffer.concat([u16(0), u16(0)])])).toBe('malformed: empty server_name extension');
    expect(kind([])).toBe('sni null');
  });

  it('refuses records that are not a ClientHello', () => {
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0, 0]))).toMatchObject({ kind: 'malformed' });
    expect(parseClientHello(Buffer.from([0x16, 2, 0, 0, 4, 1, 0, 0, 0]))).toMatchObject({ kind: 'malformed' });
    expect(parseClientHello(record(Buffer.from([2, 0, 0, 0])))).toMatchObject({
      kind: 'malformed',
      detail: 'first handshake message is not a ClientHello',
    });
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0x40, 0x01]))).toMatchObject({
      kind: 'malformed',
      detail: 'bad TLS record length',
    });
    expect(parseClientHello(record(Buffer.from([1, 0, 0x50, 0])))).toMatchObject({
      kind: 'malformed',
      detail: 'ClientHello is too large',
    });
    // A ClientHello interrupted by an application-data record.
    const message = withSni.subarray(5);
    const interrupted = Buffer.concat([record(message.subarray(0, 10)), Buffer.from([0x17, 3, 3, 0, 1, 0])]);
    expect(parseClientHello(interrupted)).toMatchObject({ kind: 'malformed' });
  });

  it('never throws on random bytes, truncations or bit flips (fuzz)', () => {
    const outcome = (b: Uint8Array): void => {
      const r = parseClientHello(b);
      expect(['need_more', 'not_tls', 'malformed', 'client_hello']).toContain(r.kind);
      if (r.kind === 'client_hello' && r.serverName !== null) expect(r.serverName).toMatch(/^[\x21-\x7e]+$/);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), outcome), { numRuns: 3000 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (tail) =>
        outcome(Buffer.concat([Buffer.from([0x16, 3, 1]), Buffer.from(tail)])),
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.nat(withSni.length - 1),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(withSni.length),
        (at, xor, cut) => {
          const mutated = Buffer.from(withSni);
          mutated[at] = (mutated[at] ?? 0) ^ xor;
          outcome(mutated);
          outcome(mutated.subarray(0, cut));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
