import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  WEB_PORTS,
  canonicalAddress,
  hostMatches,
  normaliseHost,
  parseHostPattern,
  patternAllows,
  type HostPattern,
  type NormalisedHost,
} from './host-pattern.js';

function norm(raw: string): NormalisedHost {
  const result = normaliseHost(raw);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(raw)} to normalise, got: ${result.reason}`);
  return result.value;
}

function pattern(text: string): HostPattern {
  const result = parseHostPattern(text);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(text)} to parse, got: ${result.reason}`);
  return result.value;
}

function refusal(text: string): string {
  const result = parseHostPattern(text);
  if (result.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused, got ${JSON.stringify(result.value)}`);
  return result.reason;
}

/** Whether `entry` lets a client that wrote `rawHost` reach it on `port` (normalising as the proxy does). */
function allows(entry: string, rawHost: string, port: number): boolean {
  const host = normaliseHost(rawHost);
  return host.ok && patternAllows(pattern(entry), host.value.host, port);
}

describe('normaliseHost', () => {
  it('NET-06 lower-cases names and drops one trailing dot', () => {
    expect(norm('EXAMPLE.com')).toEqual({ kind: 'name', host: 'example.com' });
    expect(norm('Api.Example.COM.')).toEqual({ kind: 'name', host: 'api.example.com' });
    expect(norm('a.b.c.')).toEqual({ kind: 'name', host: 'a.b.c' });
    expect(norm('localhost')).toEqual({ kind: 'name', host: 'localhost' });
  });

  it.each(['example.com..', '.', '..', '.example.com', 'a..b', 'example..com'])(
    'NET-06 refuses empty labels: %j',
    (raw) => {
      expect(normaliseHost(raw).ok).toBe(false);
    },
  );

  it('NET-06 IDN becomes punycode; the punycode spelling is the same host', () => {
    expect(norm('bücher.de')).toEqual({ kind: 'name', host: 'xn--bcher-kva.de' });
    expect(norm('BÜCHER.DE')).toEqual({ kind: 'name', host: 'xn--bcher-kva.de' });
    expect(norm('xn--bcher-kva.de')).toEqual({ kind: 'name', host: 'xn--bcher-kva.de' });
    expect(norm('XN--BCHER-KVA.de.')).toEqual({ kind: 'name', host: 'xn--bcher-kva.de' });
  });

  it('NET-06 a homograph (Cyrillic а) is a different host from the Latin one', () => {
    const spoof = norm('\u0430pple.com');
    expect(spoof.host).not.toBe('apple.com');
    expect(spoof.host.startsWith('xn--')).toBe(true);
  });

  it('NET-06 full-width letters and ideographic dots map to the ASCII name (as WHATWG URL parsing does)', () => {
    expect(norm('ＥＸＡＭＰＬＥ.com')).toEqual({ kind: 'name', host: 'example.com' });
    expect(norm('example\u3002com')).toEqual({ kind: 'name', host: 'example.com' });
  });

  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7F.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0177.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['127.000.000.001', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['169.254.169.254', '169.254.169.254'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['2852039166', '169.254.169.254'],
    ['0', '0.0.0.0'],
    ['1.2.3', '1.2.0.3'],
    ['１２７.０.０.１', '127.0.0.1'],
  ])('NET-06 IPv4 spelling %j is %s', (raw, canonical) => {
    expect(norm(raw)).toEqual({ kind: 'ip', host: canonical, version: 4 });
  });

  it.each(['256.1.1.1', '1.2.3.4.5', '4294967296', '0x100000000', '1.2.3.256', '08.0.0.1', '0x7g.1'])(
    'NET-06 refuses the invalid IPv4 form %j',
    (raw) => {
      expect(normaliseHost(raw).ok).toBe(false);
    },
  );

  it.each(['foo.123', 'example.0x1', 'a.1'])(
    'NET-06 refuses a name whose last label is numeric (some clients read it as IPv4): %j',
    (raw) => {
      expect(normaliseHost(raw).ok).toBe(false);
    },
  );

  it.each([
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['[2001:DB8::1]', '2001:db8::1'],
    ['[2001:0db8:0000:0000:0000:0000:0000:0001]', '2001:db8::1'],
    ['[fe80::1]', 'fe80::1'],
  ])('NET-06 IPv6 literal %j is %s', (raw, canonical) => {
    expect(norm(raw)).toEqual({ kind: 'ip', host: canonical, version: 6 });
  });

  it.each([
    ['[::ffff:127.0.0.1]', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['[::ffff:7f00:1]', '127.0.0.1'],
    ['[0:0:0:0:0:ffff:7f00:1]', '127.0.0.1'],
    ['[::FFFF:169.254.169.254]', '169.254.169.254'],
  ])('NET-06 IPv4-mapped IPv6 %j is plain IPv4 %s', (raw, canonical) => {
    expect(norm(raw)).toEqual({ kind: 'ip', host: canonical, version: 4 });
  });

  it.each([
    '[::ffff:127.0.0.1',
    '[::1]]',
    ':::1',
    '[1:2:3:4:5:6:7:8:9]',
    '[fe80::1%eth0]',
    '[fe80::1%25eth0]',
    'example.com:443',
    '[::1]:443',
  ])('NET-06 refuses the malformed IPv6 / host:port form %j', (raw) => {
    expect(normaliseHost(raw).ok).toBe(false);
  });

  it.each([
    ['user@example.com', 'userinfo'],
    ['example.com/path', 'path'],
    ['example.com\\evil', 'backslash'],
    ['example.com?x', 'query'],
    ['example.com#x', 'fragment'],
    ['exa%6dple.com', 'percent-encoding'],
    ['exa mple.com', 'space'],
    ['example.com\0', 'NUL'],
    ['example.com\r\nX: y', 'CRLF'],
    ['\texample.com', 'tab'],
    ['example.com\x7f', 'DEL'],
  ])('NET-06 refuses %j (%s)', (raw) => {
    const result = normaliseHost(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/not allowed/);
  });

  it.each(['-a.com', 'a-.com', 'a_b.com', 'xn--zz.com', '*.example.com', 'exa*mple.com'])(
    'NET-06 refuses the invalid label in %j',
    (raw) => {
      expect(normaliseHost(raw).ok).toBe(false);
    },
  );

  it('NET-06 bounds: labels up to 63, names up to 253 characters (one trailing dot allowed)', () => {
    const label63 = 'a'.repeat(63);
    expect(norm(`${label63}.com`).host).toBe(`${label63}.com`);
    expect(normaliseHost(`${'a'.repeat(64)}.com`).ok).toBe(false);
    const name253 = `${label63}.${label63}.${label63}.${'b'.repeat(61)}`;
    expect(name253).toHaveLength(253);
    expect(norm(name253).host).toBe(name253);
    expect(norm(`${name253}.`).host).toBe(name253);
    expect(normaliseHost(`${name253}b`).ok).toBe(false);
    expect(normaliseHost('').ok).toBe(false);
    expect(normaliseHost('a'.repeat(100_000)).ok).toBe(false);
  });

  it('NET-06 property: never throws, and what it returns is bounded and canonical', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.domain(), fc.ipV4(), fc.ipV4Extended(), fc.ipV6()),
        (raw) => {
          const result = normaliseHost(raw);
          if (!result.ok) {
            expect(typeof result.reason).toBe('string');
            return;
          }
          const { value } = result;
          if (value.kind === 'name') {
            expect(value.host.length).toBeGreaterThan(0);
            expect(value.host.length).toBeLessThanOrEqual(253);
            expect(value.host).toMatch(/^[a-z0-9.-]+$/);
            expect(value.host.endsWith('.')).toBe(false);
          } else if (value.version === 4) {
            expect(value.host).toMatch(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
          } else {
            expect(value.host).toMatch(/^[0-9a-f:]+$/);
            expect(value.host.startsWith('::ffff:')).toBe(false);
          }
          // Canonical: normalising the result again changes nothing.
          expect(normaliseHost(value.host)).toEqual({ ok: true, value });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('NET-06 property: every generated domain normalises to its lower-case self', () => {
    fc.assert(
      fc.property(fc.domain(), (domain) => {
        const result = normaliseHost(domain);
        // fast-check's domains may end in an all-digit TLD only if it generates one; those are refused by design.
        if (/\.\d+$/.test(domain)) return;
        expect(result).toEqual({ ok: true, value: { kind: 'name', host: domain.toLowerCase() } });
      }),
    );
  });

  it('NET-06 property: every IPv4 spelling fast-check knows (hex, octal, short) normalises to dotted decimal', () => {
    fc.assert(
      fc.property(fc.ipV4Extended(), (raw) => {
        const result = normaliseHost(raw);
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(result.value.kind).toBe('ip');
          expect(result.value.host).toMatch(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
        }
      }),
    );
  });
});

describe('canonicalAddress', () => {
  it('NET-06 canonical text of IP addresses; undefined for names', () => {
    expect(canonicalAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(canonicalAddress('2001:0DB8::0001')).toBe('2001:db8::1');
    expect(canonicalAddress('example.com')).toBeUndefined();
    expect(canonicalAddress('')).toBeUndefined();
  });
});

describe('parseHostPattern', () => {
  it('NET-06 exact names: normalised host, web ports by default', () => {
    expect(pattern('api.example.com')).toEqual({
      text: 'api.example.com',
      kind: 'exact',
      host: 'api.example.com',
      ports: 'web',
    });
    expect(pattern('EXAMPLE.COM.')).toEqual({ text: 'EXAMPLE.COM.', kind: 'exact', host: 'example.com', ports: 'web' });
    expect(pattern('bücher.de').host).toBe('xn--bcher-kva.de');
    expect(WEB_PORTS).toEqual([80, 443]);
  });

  it('NET-06 ports: a number, or * for any', () => {
    expect(pattern('api.example.com:8443').ports).toBe(8443);
    expect(pattern('api.example.com:1').ports).toBe(1);
    expect(pattern('api.example.com:65535').ports).toBe(65535);
    expect(pattern('api.example.com:*').ports).toBe('any');
    expect(pattern('*.example.com:8443')).toMatchObject({ kind: 'wildcard', host: 'example.com', ports: 8443 });
  });

  it.each([
    'example.com:0',
    'example.com:00000',
    'example.com:65536',
    'example.com:99999',
    'example.com:123456',
    'example.com:',
    'example.com:-1',
    'example.com:http',
    'example.com:**',
    'example.com:80:80',
  ])('NET-06 refuses the bad port in %j', (text) => {
    refusal(text);
  });

  it('NET-06 IPv4 addresses in any spelling become address patterns in dotted decimal', () => {
    expect(pattern('203.0.113.7')).toEqual({ text: '203.0.113.7', kind: 'address', host: '203.0.113.7', ports: 'web' });
    expect(pattern('0x7f.1:8080')).toMatchObject({ kind: 'address', host: '127.0.0.1', ports: 8080 });
    expect(pattern('2130706433:*')).toMatchObject({ kind: 'address', host: '127.0.0.1', ports: 'any' });
  });

  it('NET-06 IPv6 addresses must be bracketed; mapped IPv4 becomes IPv4', () => {
    expect(pattern('[2001:db8::7]')).toEqual({
      text: '[2001:db8::7]',
      kind: 'address',
      host: '2001:db8::7',
      ports: 'web',
    });
    expect(pattern('[2001:DB8::7]:443')).toMatchObject({ kind: 'address', host: '2001:db8::7', ports: 443 });
    expect(pattern('[::1]:*')).toMatchObject({ kind: 'address', host: '::1', ports: 'any' });
    expect(pattern('[::ffff:127.0.0.1]:443')).toMatchObject({ kind: 'address', host: '127.0.0.1', ports: 443 });
    expect(refusal('2001:db8::7')).toMatch(/brackets/);
    expect(refusal('::1')).toMatch(/brackets/);
    expect(refusal('2001:db8::7:443')).toMatch(/brackets/);
    expect(refusal('[::1')).toMatch(/unterminated/);
    expect(refusal('[::1]x')).toMatch(/after the \[IPv6\] literal/);
    expect(refusal('[::1]:')).toMatch(/after the \[IPv6\] literal/);
    expect(refusal('[::1]:0')).toMatch(/between 1 and 65535/);
    expect(refusal('[fe80::1%eth0]')).toBeTruthy();
  });

  it.each(['[not-an-ip]:443', '[example.com]', '[127.0.0.1]:80'])(
    'NET-06 brackets are only for IPv6 literals: %j is refused',
    (text) => {
      refusal(text);
    },
  );

  it.each(['0.0.0.0', '0', '0.0.0.0:80', '[::]', '[::]:443', '[0:0:0:0:0:0:0:0]', '[::ffff:0.0.0.0]', '0x0.0'])(
    'NET-06 refuses the unspecified address %j',
    (text) => {
      expect(refusal(text)).toMatch(/unspecified/);
    },
  );

  it.each([
    'http://example.com',
    'https://example.com/',
    'HTTPS://EXAMPLE.COM',
    'socks5h://example.com:1080',
    'git+ssh://example.com',
  ])('NET-06 refuses a URL %j', (text) => {
    expect(refusal(text)).toMatch(/not a URL/);
  });

  it.each([' example.com', 'example.com ', 'example.com\n', '\texample.com'])(
    'NET-06 refuses surrounding whitespace %j',
    (text) => {
      refusal(text);
    },
  );

  it.each(['', 'example.com/path', 'user@example.com', 'a..b', 'foo.123', 'exa mple.com', 'example.com\0'])(
    'NET-06 refuses the malformed entry %j',
    (text) => {
      refusal(text);
    },
  );

  it('NET-06 refuses entries longer than 300 characters without parsing them', () => {
    expect(refusal(`${'a.'.repeat(200)}com`)).toMatch(/300/);
  });

  it('NET-08 *.example.com is a wildcard over example.com (normalised)', () => {
    expect(pattern('*.example.com')).toEqual({
      text: '*.example.com',
      kind: 'wildcard',
      host: 'example.com',
      ports: 'web',
    });
    expect(pattern('*.EXAMPLE.com.')).toMatchObject({ kind: 'wildcard', host: 'example.com' });
    expect(pattern('*.bücher.de')).toMatchObject({ kind: 'wildcard', host: 'xn--bcher-kva.de' });
  });

  it.each(['*', '*:443', '*:*', '*.*', '**', '*.*:*'])('NET-08 refuses the allow-everything entry %j', (text) => {
    expect(refusal(text)).toMatch(/every host/);
  });

  it.each(['*.com', '*.COM', '*.com.', '*.internal', '*.localhost', '*.xn--p1ai', '*.рф', '*.com:443'])(
    'NET-08 refuses the single-label wildcard %j',
    (text) => {
      expect(refusal(text)).toMatch(/top-level domain/);
    },
  );

  it.each(['*.127.0.0.1', '*.1.2.3.4', '*.0x7f.1', '*.[::1]'])(
    'NET-08 refuses a wildcard over an IP address %j',
    (text) => {
      refusal(text);
    },
  );

  it.each([
    '*example.com',
    'a.*.example.com',
    'example.*',
    'ex*ample.com',
    '*.*.example.com',
    '**.example.com',
    '*.example.*',
    '.*.example.com',
    '*..example.com',
  ])('NET-08 refuses a misplaced or repeated wildcard %j', (text) => {
    refusal(text);
  });
});

describe('patternAllows / hostMatches', () => {
  it('NET-08 *.example.com matches subdomains at any depth', () => {
    expect(allows('*.example.com', 'a.example.com', 443)).toBe(true);
    expect(allows('*.example.com', 'a.b.c.example.com', 80)).toBe(true);
    expect(allows('*.example.com', 'A.EXAMPLE.COM.', 443)).toBe(true);
  });

  it.each([
    'example.com',
    'EXAMPLE.COM.',
    'evilexample.com',
    'aexample.com',
    'example.com.evil.net',
    'a.example.com.evil.net',
    'example.co',
    'xample.com',
    'a.example.org',
    'a-example.com',
  ])('NET-08 *.example.com does not match %j', (host) => {
    expect(allows('*.example.com', host, 443)).toBe(false);
  });

  it('NET-08 a wildcard never matches an IP address, even one written like a subdomain', () => {
    expect(allows('*.example.com', '1.2.3.4', 443)).toBe(false);
    expect(hostMatches(pattern('*.example.com'), '127.0.0.1')).toBe(false);
  });

  it('NET-06 an exact name matches only itself, whatever the client spelling', () => {
    expect(allows('api.example.com', 'API.Example.com.', 443)).toBe(true);
    expect(allows('api.example.com', 'x.api.example.com', 443)).toBe(false);
    expect(allows('api.example.com', 'example.com', 443)).toBe(false);
    expect(allows('api.example.com', 'api.example.com.evil.net', 443)).toBe(false);
    expect(allows('bücher.de', 'xn--bcher-kva.de', 443)).toBe(true);
    expect(allows('xn--bcher-kva.de', 'BÜCHER.de', 443)).toBe(true);
    expect(allows('apple.com', '\u0430pple.com', 443)).toBe(false);
  });

  it.each(['0x7f.1', '2130706433', '0177.0.0.1', '127.1', '127.0.0.1.', '[::ffff:127.0.0.1]', '::ffff:7f00:1'])(
    'NET-06 127.0.0.1:8080 matches the odd spelling %j',
    (host) => {
      expect(allows('127.0.0.1:8080', host, 8080)).toBe(true);
      expect(allows('127.0.0.1:8080', host, 8081)).toBe(false);
    },
  );

  it('NET-06 an address pattern matches neither names nor other addresses', () => {
    expect(allows('127.0.0.1:*', 'localhost', 80)).toBe(false);
    expect(allows('127.0.0.1:*', '127.0.0.2', 80)).toBe(false);
    expect(allows('[::1]:*', '127.0.0.1', 80)).toBe(false);
    expect(allows('[::1]:*', '[::1]', 80)).toBe(true);
    expect(allows('[2001:db8::7]', '[2001:0DB8:0:0:0:0:0:7]', 443)).toBe(true);
    expect(allows('localhost:*', '127.0.0.1', 80)).toBe(false);
  });

  it('NET-06 port rules: web = 80 and 443 only, N = N only, * = any', () => {
    const web = pattern('x.test');
    for (const port of [80, 443]) expect(patternAllows(web, 'x.test', port)).toBe(true);
    for (const port of [0, 22, 8080, 8443, 65535]) expect(patternAllows(web, 'x.test', port)).toBe(false);
    const one = pattern('x.test:8443');
    expect(patternAllows(one, 'x.test', 8443)).toBe(true);
    expect(patternAllows(one, 'x.test', 443)).toBe(false);
    expect(patternAllows(one, 'x.test', 80)).toBe(false);
    const any = pattern('x.test:*');
    for (const port of [1, 22, 80, 443, 65535]) expect(patternAllows(any, 'x.test', port)).toBe(true);
    const wild = pattern('*.x.test:8443');
    expect(patternAllows(wild, 'a.x.test', 8443)).toBe(true);
    expect(patternAllows(wild, 'a.x.test', 443)).toBe(false);
  });

  it('NET-08 property: *.base matches exactly the names that end in .base with at least one more label', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const base = fc.tuple(label, fc.constantFrom('com', 'net', 'org', 'test')).map(([l, tld]) => `${l}.${tld}`);
    fc.assert(
      fc.property(base, label, fc.string({ unit: 'binary-ascii', maxLength: 30 }), (b, sub, other) => {
        const p = pattern(`*.${b}`);
        expect(hostMatches(p, `${sub}.${b}`)).toBe(true);
        expect(hostMatches(p, b)).toBe(false);
        expect(hostMatches(p, `${sub}${b}`)).toBe(false);
        expect(hostMatches(p, `${b}.${sub}`)).toBe(false);
        expect(hostMatches(p, other)).toBe(other.length > b.length + 1 && other.endsWith(`.${b}`));
      }),
    );
  });

  it('NET-08 property: parseHostPattern never throws and never yields a bare or single-label wildcard', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.domain().map((d) => `*.${d}`),
          fc.constantFrom('*', '*.*', '*.com'),
        ),
        (text) => {
          const result = parseHostPattern(text);
          if (!result.ok) return;
          expect(result.value.host.length).toBeGreaterThan(0);
          expect(result.value.host.includes('*')).toBe(false);
          if (result.value.kind === 'wildcard') expect(result.value.host.includes('.')).toBe(true);
          if (typeof result.value.ports === 'number') {
            expect(result.value.ports).toBeGreaterThanOrEqual(1);
            expect(result.value.ports).toBeLessThanOrEqual(65535);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
