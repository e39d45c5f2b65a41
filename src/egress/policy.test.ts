import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyAddress } from './address.js';
import { parseAuthority } from './authority.js';
import { EgressPolicy, reportableHost } from './policy.js';
import { tableResolver } from '../../test/kits/egress.js';

function decide(policy: EgressPolicy, host: string, port: number): string {
  const d = policy.decideHost(host, port);
  return d.allow ? `allow ${d.target.host} via ${d.rule.text}` : `${d.reason} ${d.host}`;
}

describe('EgressPolicy.decideHost', () => {
  it('NET-04 port rules: bare name = 80/443, :8443 = that port, :* = any', () => {
    const policy = new EgressPolicy(['x.test', 'y.test:8443', 'z.test:*']);
    expect(decide(policy, 'x.test', 80)).toBe('allow x.test via x.test');
    expect(decide(policy, 'x.test', 443)).toBe('allow x.test via x.test');
    expect(decide(policy, 'x.test', 8443)).toBe('port_not_allowed x.test');
    expect(decide(policy, 'x.test', 22)).toBe('port_not_allowed x.test');
    expect(decide(policy, 'y.test', 8443)).toBe('allow y.test via y.test:8443');
    expect(decide(policy, 'y.test', 443)).toBe('port_not_allowed y.test');
    expect(decide(policy, 'z.test', 1)).toBe('allow z.test via z.test:*');
    expect(decide(policy, 'z.test', 65535)).toBe('allow z.test via z.test:*');
    expect(decide(policy, 'other.test', 443)).toBe('not_allowed other.test');
  });

  it('NET-04 several entries for one host combine their ports', () => {
    const policy = new EgressPolicy(['x.test', 'x.test:8443']);
    expect(decide(policy, 'x.test', 443)).toBe('allow x.test via x.test');
    expect(decide(policy, 'x.test', 8443)).toBe('allow x.test via x.test:8443');
    expect(decide(policy, 'x.test', 8080)).toBe('port_not_allowed x.test');
  });

  it('NET-06 odd spellings are normalised before matching', () => {
    const policy = new EgressPolicy(['allowed.com', 'xn--bcher-kva.test', '127.0.0.1:8080', '[2001:db8::7]:443']);
    expect(decide(policy, 'ALLOWED.COM', 443)).toBe('allow allowed.com via allowed.com');
    expect(decide(policy, 'allowed.com.', 443)).toBe('allow allowed.com via allowed.com');
    expect(decide(policy, 'AlLoWeD.CoM.', 80)).toBe('allow allowed.com via allowed.com');
    expect(decide(policy, 'bücher.test', 443)).toBe('allow xn--bcher-kva.test via xn--bcher-kva.test');
    expect(decide(policy, 'BÜCHER.test', 443)).toBe('allow xn--bcher-kva.test via xn--bcher-kva.test');
    // Every IPv4 spelling becomes dotted decimal, so it matches exactly the address entry…
    expect(decide(policy, '0x7f.1', 8080)).toBe('allow 127.0.0.1 via 127.0.0.1:8080');
    expect(decide(policy, '2130706433', 8080)).toBe('allow 127.0.0.1 via 127.0.0.1:8080');
    expect(decide(policy, '0177.0.0.1', 8080)).toBe('allow 127.0.0.1 via 127.0.0.1:8080');
    expect(decide(policy, '[::ffff:127.0.0.1]', 8080)).toBe('allow 127.0.0.1 via 127.0.0.1:8080');
    expect(decide(policy, '[::ffff:7f00:1]', 8080)).toBe('allow 127.0.0.1 via 127.0.0.1:8080');
    // …and nothing else.
    expect(decide(policy, '0x7f.1', 80)).toBe('port_not_allowed 127.0.0.1');
    expect(decide(policy, '2130706434', 8080)).toBe('not_allowed 127.0.0.2');
    expect(decide(policy, '[::ffff:127.0.0.1]', 22)).toBe('port_not_allowed 127.0.0.1');
    expect(decide(policy, '[2001:0db8:0000::0007]', 443)).toBe('allow 2001:db8::7 via [2001:db8::7]:443');
    // Userinfo tricks never name a host.
    expect(decide(policy, 'allowed.com@evil.com', 443)).toBe('bad_request <userinfo>@evil.com');
    expect(decide(policy, 'evil.com#allowed.com', 443)).toMatch(/^bad_request/);
    expect(decide(policy, 'allowed.com\u0000.evil.com', 443)).toMatch(/^bad_request/);
    expect(decide(policy, '', 443)).toMatch(/^bad_request/);
    expect(decide(policy, 'allowed.com', 0)).toMatch(/^bad_request/);
    expect(decide(policy, 'allowed.com', 70000)).toMatch(/^bad_request/);
  });

  it('NET-08 wildcards match subdomains only', () => {
    const policy = new EgressPolicy(['*.example.com']);
    expect(decide(policy, 'a.example.com', 443)).toBe('allow a.example.com via *.example.com');
    expect(decide(policy, 'a.b.example.com', 443)).toBe('allow a.b.example.com via *.example.com');
    expect(decide(policy, 'example.com', 443)).toBe('not_allowed example.com');
    expect(decide(policy, 'example.com.evil.net', 443)).toBe('not_allowed example.com.evil.net');
    expect(decide(policy, 'evilexample.com', 443)).toBe('not_allowed evilexample.com');
    expect(decide(policy, 'a.example.com', 22)).toBe('port_not_allowed a.example.com');
  });

  it('NET-08 too-broad entries are rejected at construction', () => {
    expect(() => new EgressPolicy(['*'])).toThrow(TypeError);
    expect(() => new EgressPolicy(['*.com'])).toThrow(TypeError);
    // Multi-label public suffixes ('*.co.uk') are refused by config validation (core/wildcard-breadth.ts),
    // which keeps the public-suffix list off the proxy's start-up path.
    expect(() => new EgressPolicy(['https://example.com/'])).toThrow(TypeError);
  });

  it('an empty allow-list allows nothing', () => {
    const policy = new EgressPolicy([]);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.integer({ min: -1, max: 70000 }), (host, port) => {
        expect(policy.decideHost(host, port).allow).toBe(false);
      }),
    );
  });

  it('never throws on arbitrary input and reports bounded, control-free hosts', () => {
    const policy = new EgressPolicy(['*.example.com', 'a.test', '10.0.0.1:*']);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer(), (host, port) => {
        const d = policy.decideHost(host, port);
        if (!d.allow) {
          expect(d.host.length).toBeLessThanOrEqual(270);
          expect(d.host).not.toMatch(/[\x00-\x1f\x7f]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('NET-07 address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['169.254.169.254', 'linkLocal'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped embedding loopback 127.0.0.1'],
    ['::ffff:0:a00:1', 'rfc6145 embedding private 10.0.0.1'],
    ['64:ff9b::a9fe:a9fe', 'nat64 embedding linkLocal 169.254.169.254'],
    ['64:ff9b:1::1', 'nat64 local-use'],
    ['2002:7f00:1::1', '6to4 embedding loopback 127.0.0.1'],
    ['2002:a00:1::', '6to4 embedding private 10.0.0.1'],
    ['2001:0:a00:1::1', 'teredo server embedding private 10.0.0.1'],
    ['2001:0:808:808::80ff:fffe', 'teredo client embedding loopback 127.0.0.1'],
    ['::7f00:1', 'not in 2000::/3'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'reserved'],
    ['not-an-ip', 'invalid'],
  ])('%s is refused (%s)', (address, range) => {
    expect(classifyAddress(address)).toEqual({ global: false, range });
  });

  it.each([
    '1.1.1.1',
    '93.184.216.34',
    '8.8.8.8',
    '2606:4700::1111',
    '2a00:1450:4001::1',
    '64:ff9b::101:101',
    '2002:101:101::1',
  ])('%s is globally routable', (address) => {
    expect(classifyAddress(address)).toEqual({ global: true });
  });
});

describe('EgressPolicy.resolveTarget', () => {
  const resolver = tableResolver({
    'public.test': ['93.184.216.34'],
    'loop.test': ['127.0.0.1'],
    'private.test': ['10.0.0.1'],
    'meta.test': ['169.254.169.254'],
    'ula.test': ['fd00::1'],
    'mapped.test': ['::ffff:10.1.2.3'],
    'mixed.test': ['10.0.0.9', '93.184.216.34', '2606:4700::1111'],
    'exact.test': ['10.0.0.5'],
    'empty.test': [],
  });
  const policy = new EgressPolicy([
    'public.test',
    'loop.test',
    'private.test',
    'meta.test',
    'ula.test',
    'mapped.test',
    'mixed.test',
    'exact.test',
    'empty.test',
    'nx.test',
    '10.0.0.5:443',
  ]);
  const resolve = async (host: string, port = 443): Promise<string> => {
    const d = policy.decideHost(host, port);
    if (!d.allow) return `host ${d.reason}`;
    const r = await policy.resolveTarget(d.target, port, resolver);
    return r.allow ? r.addresses.join(',') : `${r.reason}: ${r.detail}`;
  };

  it('NET-07 an allowed name resolving to loopback, private, metadata or ULA addresses is refused', async () => {
    expect(await resolve('public.test')).toBe('93.184.216.34');
    expect(await resolve('loop.test')).toMatch(/^blocked_address: loop.test resolved to 127.0.0.1 \(loopback\)/);
    expect(await resolve('private.test')).toMatch(/^blocked_address: .*10\.0\.0\.1 \(private\)/);
    expect(await resolve('meta.test')).toMatch(/^blocked_address: .*169\.254\.169\.254 \(linkLocal\)/);
    expect(await resolve('ula.test')).toMatch(/^blocked_address: .*fd00::1 \(uniqueLocal\)/);
    expect(await resolve('mapped.test')).toMatch(/^blocked_address: .*10\.1\.2\.3 \(private\)/);
  });

  it('NET-07 a blocked_address refusal carries the address and the entry that would admit exactly it', async () => {
    const refusal = async (host: string, port: number) => {
      const d = policy.decideHost(host, port);
      if (!d.allow) throw new Error(d.detail);
      const r = await policy.resolveTarget(d.target, port, resolver);
      return r.allow ? null : r;
    };
    expect((await refusal('loop.test', 443))?.blocked).toEqual({
      address: '127.0.0.1',
      range: 'loopback',
      allowEntry: '127.0.0.1',
    });
    expect((await refusal('ula.test', 443))?.blocked).toEqual({
      address: 'fd00::1',
      range: 'uniqueLocal',
      allowEntry: '[fd00::1]',
    });
    const exact = await refusal('exact.test', 80);
    expect(exact?.blocked).toEqual({ address: '10.0.0.5', range: 'private', allowEntry: '10.0.0.5' });
    // The suggested entry is the one the detail names, and it admits the address.
    expect(exact?.detail).toContain("add '10.0.0.5' to network.allow");
    const admitted = new EgressPolicy(['exact.test:80', '10.0.0.5']);
    const d = admitted.decideHost('exact.test', 80);
    if (!d.allow) throw new Error(d.detail);
    expect(await admitted.resolveTarget(d.target, 80, resolver)).toEqual({ allow: true, addresses: ['10.0.0.5'] });
    // A resolve failure or a public address carries none.
    expect((await refusal('nx.test', 443))?.blocked).toBeUndefined();
  });

  it('NET-07 the exact address allowed (with its port) lets that address through', async () => {
    expect(await resolve('exact.test', 443)).toBe('10.0.0.5');
    expect(await resolve('exact.test', 80)).toMatch(/^blocked_address/);
  });

  it('keeps only the checked addresses of a mixed answer, in order', async () => {
    expect(await resolve('mixed.test')).toBe('93.184.216.34,2606:4700::1111');
  });

  it('resolution failures are refusals', async () => {
    expect(await resolve('nx.test')).toMatch(/^resolve_failed: nx.test could not be resolved \(ENOTFOUND\)/);
    expect(await resolve('empty.test')).toMatch(/^resolve_failed/);
    const slow = new EgressPolicy(['slow.test']);
    const d = slow.decideHost('slow.test', 443);
    if (!d.allow) throw new Error('expected allow');
    const r = await slow.resolveTarget(d.target, 443, () => new Promise(() => undefined), 20);
    expect(r).toMatchObject({ allow: false, reason: 'resolve_failed' });
  });
});

describe('parseAuthority', () => {
  it.each([
    ['example.com:443', undefined, 'example.com 443'],
    ['[2001:db8::1]:8443', undefined, '2001:db8::1 8443'],
    ['example.com', 80, 'example.com 80'],
    ['[::1]', 80, '::1 80'],
    ['example.com', undefined, 'the target needs a port, e.g. example.com:443'],
    ['allowed.com@evil.com:443', undefined, 'userinfo (user@host) is not allowed in a proxy target'],
    ['2001:db8::1:443', undefined, 'IPv6 targets must be written in brackets, e.g. [2001:db8::1]:443'],
    ['example.com:0', undefined, 'the port must be a number from 1 to 65535'],
    ['example.com:65536', undefined, 'the port must be a number from 1 to 65535'],
    ['example.com:+443', undefined, 'the port must be a number from 1 to 65535'],
    ['example.com:', undefined, 'the port must be a number from 1 to 65535'],
    [':443', undefined, 'the target has no host'],
    ['[::1', undefined, 'unterminated [IPv6] literal'],
    ['[::1]x', undefined, 'unexpected text after the [IPv6] literal'],
  ])('%s', (text, defaultPort, expected) => {
    const a = parseAuthority(text, defaultPort);
    expect(a.ok ? `${a.host} ${a.port}` : a.reason).toBe(expected);
  });
});

describe('reportableHost', () => {
  it('drops userinfo, control characters and excess length', () => {
    expect(reportableHost('warden:secret@evil.com')).toBe('<userinfo>@evil.com');
    expect(reportableHost('a\r\nb')).toBe('a??b');
    expect(reportableHost('x'.repeat(1000)).length).toBe(253);
  });
});
