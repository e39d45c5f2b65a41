import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGreeting, parseRequest, parseUserPassword, socksReply } from './socks5.js';

describe('SOCKS5 parsers', () => {
  it('parses a greeting and notices whether username/password is offered', () => {
    expect(parseGreeting(Buffer.from([5]))).toEqual({ kind: 'need_more' });
    expect(parseGreeting(Buffer.from([5, 2, 0]))).toEqual({ kind: 'need_more' });
    expect(parseGreeting(Buffer.from([5, 2, 0, 2]))).toEqual({ kind: 'ok', consumed: 4, offersUserPassword: true });
    expect(parseGreeting(Buffer.from([5, 1, 0]))).toEqual({ kind: 'ok', consumed: 3, offersUserPassword: false });
    expect(parseGreeting(Buffer.from([5, 0]))).toMatchObject({ kind: 'bad' });
    expect(parseGreeting(Buffer.from([4, 1, 0]))).toMatchObject({ kind: 'bad' });
  });

  it('parses RFC 1929 username/password', () => {
    const msg = Buffer.from([1, 6, ...Buffer.from('warden'), 3, ...Buffer.from('abc')]);
    const r = parseUserPassword(msg);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(Buffer.from(r.user).toString()).toBe('warden');
    expect(Buffer.from(r.password).toString()).toBe('abc');
    expect(r.consumed).toBe(msg.length);
    for (let n = 0; n < msg.length; n++) expect(parseUserPassword(msg.subarray(0, n)).kind).toBe('need_more');
    expect(parseUserPassword(Buffer.from([5, 0]))).toMatchObject({ kind: 'bad' });
  });

  it('parses CONNECT requests for each address type', () => {
    expect(parseRequest(Buffer.from([5, 1, 0, 1, 1, 2, 3, 4, 0x01, 0xbb]))).toEqual({
      kind: 'ok',
      consumed: 10,
      command: 1,
      host: '1.2.3.4',
      port: 443,
    });
    const name = Buffer.from('example.com');
    expect(parseRequest(Buffer.from([5, 1, 0, 3, name.length, ...name, 0, 80]))).toEqual({
      kind: 'ok',
      consumed: 5 + name.length + 2,
      command: 1,
      host: 'example.com',
      port: 80,
    });
    const v6 = Buffer.from([5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), 1, 0x20, 0xfb]);
    expect(parseRequest(v6)).toEqual({ kind: 'ok', consumed: 22, command: 1, host: '2001:db8::1', port: 8443 });
    expect(parseRequest(Buffer.from([5, 1, 0, 3, 2, 0xff, 0xfe, 0, 80]))).toMatchObject({ kind: 'bad', reply: 1 });
    expect(parseRequest(Buffer.from([5, 1, 0, 3, 0, 0, 80]))).toMatchObject({ kind: 'bad' });
    expect(parseRequest(Buffer.from([5, 1, 0, 7, 0, 0, 80]))).toMatchObject({ kind: 'bad', reply: 8 });
    expect(parseRequest(Buffer.from([5, 1, 1, 1, 1, 2, 3, 4, 0, 80]))).toMatchObject({ kind: 'bad' });
    expect(parseRequest(Buffer.from([5, 2, 0, 1, 1, 2, 3, 4, 0, 80]))).toMatchObject({ kind: 'ok', command: 2 });
  });

  it('never throws and never consumes more than it was given (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const parse of [parseGreeting, parseUserPassword, parseRequest] as const) {
          const r = parse(bytes);
          expect(['need_more', 'bad', 'ok']).toContain(r.kind);
          if (r.kind === 'ok') expect(r.consumed).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('replies with the bound address 0.0.0.0:0', () => {
    expect([...socksReply(2)]).toEqual([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
  });
});
