/**
 * The complete environment of a sandboxed command. Nothing from the host enters except what the
 * profile's env.pass and --env name explicitly (SBX-16). Warden adds the proxy wiring: every
 * common variable spelling points at the in-sandbox forwarder with this run's credential; and the
 * variables that name the CA bundle (paths inside the sandbox, see sandbox/ca-bundle.ts).
 */
import { SANDBOX_HOME } from '../sandbox/index.js';

export const EGRESS_PORT = 3128;
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SandboxEnvOptions {
  readonly runId: string;
  readonly credential: string;
  /** Path inside the sandbox of the Node preload that routes fetch() through the proxy (Node 20). */
  readonly nodePreload: string | null;
  /** Variables naming the CA bundle inside (see sandbox/ca-bundle.ts); the profile and --env may override them. */
  readonly ca?: Readonly<Record<string, string>>;
  /** Variables resolved from the profile and --env. */
  readonly extra: Readonly<Record<string, string>>;
}

/** Builds the environment; `extra` wins over warden's defaults except for the proxy wiring. */
export function buildSandboxEnv(options: SandboxEnvOptions): Record<string, string> {
  const proxy = `http://warden:${options.credential}@127.0.0.1:${EGRESS_PORT}`;
  const socks = `socks5h://warden:${options.credential}@127.0.0.1:${EGRESS_PORT}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: SANDBOX_HOME,
    USER: 'agent',
    LOGNAME: 'agent',
    SHELL: '/bin/sh',
    LANG: 'C.UTF-8',
    TMPDIR: '/tmp',
    ...options.ca,
    ...options.extra,
  };
  // Proxy wiring last: a profile cannot redirect or drop it (the schema refuses these names too).
  Object.assign(env, {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    ALL_PROXY: socks,
    NO_PROXY: noProxy,
    http_proxy: proxy,
    https_proxy: proxy,
    all_proxy: socks,
    no_proxy: noProxy,
    // Node >= 22.21 / 24.5 honour the variables above in fetch() and http when this is set.
    NODE_USE_ENV_PROXY: '1',
    WARDEN_RUN_ID: options.runId,
    WARDEN_SANDBOX: '1',
  });
  if (options.nodePreload !== null) {
    // Node 20 ignores HTTP_PROXY in fetch(); the preload installs undici's EnvHttpProxyAgent.
    const preload = `--import=${options.nodePreload}`;
    env.NODE_OPTIONS = options.extra.NODE_OPTIONS === undefined ? preload : `${preload} ${options.extra.NODE_OPTIONS}`;
  }
  return env;
}
