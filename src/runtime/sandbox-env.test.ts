import { afterEach, describe, expect, it } from 'vitest';
import { SANDBOX_HOME } from '../sandbox/index.js';
import { EGRESS_PORT, SANDBOX_PATH, buildSandboxEnv, type SandboxEnvOptions } from './sandbox-env.js';

const CREDENTIAL = 'a'.repeat(64);
const PRELOAD = '/run/warden/lib/node-proxy-preload.mjs';
const PROXY_NAMES = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'];
const SOCKS_NAMES = ['ALL_PROXY', 'all_proxy'];
const NO_PROXY_NAMES = ['NO_PROXY', 'no_proxy'];

function env(overrides: Partial<SandboxEnvOptions> = {}): Record<string, string> {
  return buildSandboxEnv({ runId: 'run_TEST', credential: CREDENTIAL, nodePreload: null, extra: {}, ...overrides });
}

describe('buildSandboxEnv: proxy wiring', () => {
  it('NET-09 every HTTP(S) proxy spelling, upper and lower case, points at the in-sandbox forwarder with the run credential', () => {
    const e = env();
    for (const name of PROXY_NAMES) {
      expect(e[name], name).toBe(`http://warden:${CREDENTIAL}@127.0.0.1:${EGRESS_PORT}`);
      const url = new URL(e[name] ?? '');
      expect(url.username).toBe('warden');
      expect(url.password).toBe(CREDENTIAL);
      expect(url.hostname).toBe('127.0.0.1');
      expect(url.port).toBe('3128');
    }
    expect(EGRESS_PORT).toBe(3128);
  });

  it('NET-09 ALL_PROXY / all_proxy use socks5h (names resolved by the proxy, never locally: NET-02)', () => {
    const e = env();
    for (const name of SOCKS_NAMES) expect(e[name], name).toBe(`socks5h://warden:${CREDENTIAL}@127.0.0.1:3128`);
  });

  it('NO_PROXY / no_proxy exempt only loopback', () => {
    const e = env();
    for (const name of NO_PROXY_NAMES) expect(e[name], name).toBe('localhost,127.0.0.1,::1');
  });

  it('NODE_USE_ENV_PROXY=1 so newer Node honours the variables', () => {
    expect(env().NODE_USE_ENV_PROXY).toBe('1');
  });

  it('carries the run id and marks the sandbox', () => {
    const e = env({ runId: 'run_01ABC' });
    expect(e.WARDEN_RUN_ID).toBe('run_01ABC');
    expect(e.WARDEN_SANDBOX).toBe('1');
  });

  it('SBX-16 extra variables cannot redirect, drop or spoof the proxy wiring', () => {
    const hostile: Record<string, string> = {};
    for (const name of [...PROXY_NAMES, ...SOCKS_NAMES]) hostile[name] = 'http://attacker.test:8080';
    for (const name of NO_PROXY_NAMES) hostile[name] = '*';
    hostile.NODE_USE_ENV_PROXY = '0';
    hostile.WARDEN_RUN_ID = 'run_SPOOFED';
    hostile.WARDEN_SANDBOX = '0';
    const e = env({ extra: hostile });
    expect(e).toEqual(env());
  });
});

describe('buildSandboxEnv: NODE_OPTIONS preload', () => {
  it('without a preload, NODE_OPTIONS is absent', () => {
    expect(env()).not.toHaveProperty('NODE_OPTIONS');
  });

  it('with a preload, NODE_OPTIONS imports it', () => {
    expect(env({ nodePreload: PRELOAD }).NODE_OPTIONS).toBe(`--import=${PRELOAD}`);
  });

  it("the profile's NODE_OPTIONS is kept, after the preload", () => {
    expect(env({ nodePreload: PRELOAD, extra: { NODE_OPTIONS: '--max-old-space-size=512' } }).NODE_OPTIONS).toBe(
      `--import=${PRELOAD} --max-old-space-size=512`,
    );
  });

  it("without a preload the profile's NODE_OPTIONS passes unchanged", () => {
    expect(env({ extra: { NODE_OPTIONS: '--enable-source-maps' } }).NODE_OPTIONS).toBe('--enable-source-maps');
  });
});

describe('buildSandboxEnv: defaults and what enters (SBX-16)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('sets a minimal environment of its own', () => {
    const e = env();
    expect(e).toMatchObject({
      PATH: SANDBOX_PATH,
      HOME: SANDBOX_HOME,
      USER: 'agent',
      LOGNAME: 'agent',
      SHELL: '/bin/sh',
      LANG: 'C.UTF-8',
      TMPDIR: '/tmp',
    });
    expect(SANDBOX_HOME).toBe('/home/agent');
    expect(SANDBOX_PATH.split(':')).toEqual([
      '/usr/local/sbin',
      '/usr/local/bin',
      '/usr/sbin',
      '/usr/bin',
      '/sbin',
      '/bin',
    ]);
  });

  it('SBX-16 nothing from the host environment enters', () => {
    process.env.WARDEN_TEST_HOST_SECRET = 'host-secret';
    process.env.AWS_SECRET_ACCESS_KEY = 'host-aws';
    process.env.SSH_AUTH_SOCK = '/tmp/ssh-agent.sock';
    process.env.HTTP_PROXY = 'http://host-proxy:3128';
    const e = env();
    const values = Object.values(e).join('\n');
    expect(values).not.toContain('host-secret');
    expect(values).not.toContain('host-aws');
    expect(values).not.toContain('ssh-agent');
    expect(values).not.toContain('host-proxy');
    expect(Object.keys(e).sort()).toEqual(
      [
        'PATH',
        'HOME',
        'USER',
        'LOGNAME',
        'SHELL',
        'LANG',
        'TMPDIR',
        ...PROXY_NAMES,
        ...SOCKS_NAMES,
        ...NO_PROXY_NAMES,
        'NODE_USE_ENV_PROXY',
        'WARDEN_RUN_ID',
        'WARDEN_SANDBOX',
      ].sort(),
    );
  });

  it('SBX-16 exactly the extra variables are added, and they win over the defaults', () => {
    const e = env({ extra: { TERM: 'xterm', HOME: '/work', LANG: 'de_DE.UTF-8', CI: '1' } });
    expect(e.TERM).toBe('xterm');
    expect(e.HOME).toBe('/work');
    expect(e.LANG).toBe('de_DE.UTF-8');
    expect(e.CI).toBe('1');
    expect(Object.keys(e)).toHaveLength(Object.keys(env()).length + 2);
  });

  it('names the CA bundle it is given; the profile and --env may point a variable elsewhere', () => {
    const ca = {
      NODE_EXTRA_CA_CERTS: '/run/warden/ca/node-extra.pem',
      SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
    };
    expect(env({ ca })).toMatchObject(ca);
    const e = env({ ca, extra: { SSL_CERT_FILE: '/work/my.pem' } });
    expect(e.SSL_CERT_FILE).toBe('/work/my.pem');
    expect(e.NODE_EXTRA_CA_CERTS).toBe('/run/warden/ca/node-extra.pem');
  });

  it('returns a fresh object and leaves extra untouched', () => {
    const extra = Object.freeze({ NODE_OPTIONS: '--x' });
    const a = env({ extra, nodePreload: PRELOAD });
    a.PATH = '/evil';
    expect(env({ extra, nodePreload: PRELOAD }).PATH).toBe(SANDBOX_PATH);
    expect(extra).toEqual({ NODE_OPTIONS: '--x' });
  });
});
