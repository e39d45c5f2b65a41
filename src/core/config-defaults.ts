/**
 * Config constants, kept free of zod so that a run without a config file never pays for building
 * the schema (start-up time is a product feature here). The schema (config.ts) imports these and
 * nothing here imports the schema; the built-in config, typed by the schema, is builtin-config.ts.
 */
import { posix } from 'node:path';

export const CONFIG_VERSION = 1;
export const DEFAULT_PROFILE = 'default';
export const DEFAULT_SANDBOX_USER = 'warden-sandbox';

/**
 * Profile names. A name becomes a path (a persistent home is `<state>/homes/<name>`), so this rule
 * also keeps it one plain path component: no '/', no '.' or '..', nothing hidden.
 */
/** A server's name in warden.yaml (servers.<name>); also a file name under the state dir (pins). */
export const SERVER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const PROFILE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** `profiles.<name>.home`: a fresh tmpfs per run, or the profile's own directory under the state dir. */
export const HOME_MODES = ['ephemeral', 'persistent'] as const;
export type HomeMode = (typeof HOME_MODES)[number];

/** Stands for the run's workspace in server args and in `under` conditions. */
export const WORKSPACE_TOKEN = '${workspace}';

/** The `when` key that stands for every path argument of a tool, whatever its name (GW-12). */
export const EVERY_PATH_ARGUMENT = '*';

/** `text` with every WORKSPACE_TOKEN replaced by `workspace` (config values only, never agent input). */
export function expandWorkspace(text: string, workspace: string): string {
  return text.split(WORKSPACE_TOKEN).join(workspace);
}

/**
 * Variables warden itself sets inside the sandbox; a profile may not set or pass them, because
 * they carry the run's proxy credential and wiring.
 */
export const RESERVED_ENV = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'all_proxy',
  'no_proxy',
  'NODE_USE_ENV_PROXY',
] as const;

/**
 * Directories that must never be writable from a sandbox, whatever the profile says (SBX-05).
 * The schema checks the text of `filesystem.writable`; the run plan checks the resolved real path
 * (a symlink can point here), so both read this one list.
 */
export const NEVER_WRITABLE: readonly string[] = [
  '/',
  '/usr',
  '/etc',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/boot',
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/var',
  '/home',
  '/root',
  '/opt',
  '/srv',
];

/**
 * Whether an absolute path names one of NEVER_WRITABLE however it is spelled: `//etc`, `/./etc`,
 * `/etc/.`, `/usr/../usr` and `/etc/` all mean a listed directory, so the text is normalised
 * before it is compared. Relative paths are workspace-relative and never match.
 */
export function isNeverWritable(path: string): boolean {
  if (!path.startsWith('/')) return false;
  const normal = posix.normalize(path).replace(/\/+$/, '') || '/';
  return NEVER_WRITABLE.includes(normal);
}

/** Defaults for limits a profile leaves unset. `cpu` depends on the host, so it is computed at run time. */
export const DEFAULT_LIMITS = { memoryBytes: 4 * 1024 ** 3, pids: 1024, cpuShareOfHost: 0.9 } as const;

/** Recursively freezes a parsed config so nothing downstream can mutate it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** profiles.<name>.mcp.scan when the file does not say (docs/scanning.md). */
export const DEFAULT_MCP_SCAN = {
  definitions: { high: 'quarantine', medium: 'warn', low: 'allow' },
  outputs: { high: 'wrap', medium: 'annotate', low: 'allow' },
  pin: 'first-sight',
} as const;
