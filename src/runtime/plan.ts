/**
 * Resolves what a run will be from three layers, lowest first: built-in defaults, the profile,
 * command-line overrides. Everything is validated here, before anything starts; a bad value is a
 * USAGE or CONFIG error naming the option and the fix.
 */
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Profile, WardenConfig } from '../core/config.js';
import { BUILTIN_DEFAULT_PROFILE } from '../core/builtin-config.js';
import {
  DEFAULT_LIMITS,
  DEFAULT_PROFILE,
  NEVER_WRITABLE,
  type HomeMode,
  RESERVED_ENV,
  deepFreeze,
  isNeverWritable,
} from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';
import { parseHostPattern } from '../core/host-pattern.js';
import { MAX_TIMER_MS, parseByteSize, parseDuration } from '../core/units.js';
import { isInside, realPathOrSelf } from '../sandbox/index.js';

/** Command-line overrides of `warden run`, as parsed strings (validated here). */
export interface RunOverrides {
  readonly profile?: string | undefined;
  /** Workspace directory; undefined = the current directory; null = no workspace (--no-workspace). */
  readonly workspace?: string | null | undefined;
  readonly allowDomains?: readonly string[] | undefined;
  readonly memory?: string | undefined;
  readonly pids?: string | undefined;
  readonly cpu?: string | undefined;
  readonly timeout?: string | undefined;
  /** `NAME` (copy from the host) or `NAME=VALUE`. */
  readonly env?: readonly string[] | undefined;
  readonly agent?: string | undefined;
  readonly acceptMissingLimits?: boolean | undefined;
  /** `--ro PATH` (repeatable): bound read-only at its own path for this run; relative to the cwd. */
  readonly readOnly?: readonly string[] | undefined;
}

export interface RunPlan {
  readonly profileName: string;
  readonly agentName: string;
  readonly command: readonly string[];
  readonly cwd: string;
  readonly workspace: string | null;
  /** Real paths bound read-only: the profile's filesystem.read_only, then --ro. */
  readonly readOnly: readonly string[];
  readonly writable: readonly string[];
  readonly deny: readonly string[];
  /** The agent's $HOME: a fresh tmpfs, or the profile's persistent home (runtime/home.ts). */
  readonly home: HomeMode;
  readonly networkAllow: readonly string[];
  readonly limits: {
    readonly memoryBytes: number;
    readonly pids: number;
    readonly cpu: number;
    readonly timeoutMs: number | null;
  };
  /** Variables from the profile and --env; warden adds its own (proxy wiring, HOME, PATH) at start. */
  readonly env: Readonly<Record<string, string>>;
  readonly acceptMissingLimits: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** At most this many --ro paths (the schema's bound for filesystem.read_only). */
const MAX_RO_PATHS = 256;
const MAX_COMMAND_ARGS = 4096;
const MAX_COMMAND_BYTES = 1024 * 1024;

/**
 * Real paths of a filesystem list (absolute, or relative to `base`). A missing path is a config
 * error when `mustExist` (read_only, writable), else skipped (deny: nothing to hide). A path that
 * leaves `base` through a symlink inside it is refused when `mustExist` (see refuseRedirect).
 */
export function resolveFsPaths(list: readonly string[], base: string, label: string, mustExist: boolean): string[] {
  return list.flatMap((p) => {
    const abs = isAbsolute(p) ? resolve(p) : resolve(base, p);
    if (!existsSync(abs)) {
      if (mustExist)
        throw new WardenError('CONFIG_INVALID', `${label}: ${abs} does not exist`, {
          hint: 'create it, or remove it from the config',
        });
      return [];
    }
    const real = realpathSync(abs);
    if (mustExist) refuseRedirect(abs, real, base, label);
    return [real];
  });
}

/**
 * Refuses a path that leaves `base` through a symlink lying inside it. The sandbox can write `base`
 * (the workspace), so an agent could plant such a link in one run and have the next run bind what it
 * points at — read-write, with the rights of that directory's owner once it is idmapped (warden as
 * root), or your home when warden runs as you (SBX-07). A link that stays inside `base` gives nothing
 * the sandbox does not already have.
 */
function refuseRedirect(abs: string, real: string, base: string, label: string): void {
  const baseReal = realPathOrSelf(base);
  if (abs === real || isInside(real, baseReal)) return;
  let current = '/';
  for (const part of abs.split('/').filter((p) => p !== '')) {
    const next = join(current, part);
    let isLink: boolean;
    try {
      isLink = lstatSync(next).isSymbolicLink();
    } catch {
      return; // changed under us: realpath above already resolved it; nothing more to learn
    }
    if (isLink && isInside(next, baseReal)) {
      throw new WardenError(
        'PATH_POLICY',
        `${label}: ${abs} leads through the symlink ${next} inside ${baseReal} to ${real}, outside it; whatever runs in the sandbox can change that link`,
        { hint: `write the real path (${real}) in the config, or replace the symlink with a directory` },
      );
    }
    current = isLink ? realpathSync(next) : next;
  }
}

/** Builds the frozen plan for one run. `hostEnv` is where `env.pass` and `--env NAME` read from. */
export async function resolveRunPlan(
  config: WardenConfig,
  command: readonly string[],
  overrides: RunOverrides,
  cwd: string,
  hostEnv: NodeJS.ProcessEnv,
): Promise<RunPlan> {
  if (command.length === 0) throw usage('no command given', 'write the command after --, e.g. `warden run -- bash`');
  if (command.length > MAX_COMMAND_ARGS || command.reduce((n, a) => n + Buffer.byteLength(a), 0) > MAX_COMMAND_BYTES) {
    throw usage('the command line is too long', `at most ${MAX_COMMAND_ARGS} arguments and 1 MiB`);
  }
  if (command.some((a) => a.includes('\0'))) throw usage('the command contains a NUL byte', 'remove it');

  const profileName = overrides.profile ?? DEFAULT_PROFILE;
  const profile = pickProfile(config, profileName);

  const workspace = resolveWorkspace(overrides.workspace, cwd);
  const base = workspace ?? cwd;
  const readOnly = resolveFsPaths(
    profile.filesystem.read_only,
    base,
    `profile '${profileName}' filesystem.read_only`,
    true,
  );
  const writable = resolveFsPaths(
    profile.filesystem.writable,
    base,
    `profile '${profileName}' filesystem.writable`,
    true,
  );
  refuseSystemDirectories(writable, `profile '${profileName}' filesystem.writable`);
  readOnly.push(...resolveReadOnlyFlags(overrides.readOnly ?? [], cwd));
  const deny = resolveFsPaths(profile.filesystem.deny, base, `profile '${profileName}' filesystem.deny`, false);

  const allow = [...profile.network.allow];
  for (const entry of overrides.allowDomains ?? []) {
    const parsed = parseHostPattern(entry);
    // The public-suffix list is large; load it only when a wildcard needs checking.
    const problem = !parsed.ok
      ? parsed.reason
      : parsed.value.kind === 'wildcard'
        ? (await import('../core/wildcard-breadth.js')).wildcardBreadthProblem(parsed.value)
        : null;
    if (problem !== null)
      throw usage(
        `--allow-domain '${entry}': ${problem}`,
        "e.g. --allow-domain api.github.com or --allow-domain '*.npmjs.org'",
      );
    allow.push(entry);
  }

  const limits = {
    memoryBytes:
      overrides.memory !== undefined
        ? parseOption('--memory', overrides.memory, parseByteSize, 'e.g. --memory 2GiB')
        : (profile.limits.memory ?? DEFAULT_LIMITS.memoryBytes),
    pids:
      overrides.pids !== undefined
        ? parseOption('--pids', overrides.pids, parseCount, 'e.g. --pids 512 (at most 4194304)')
        : (profile.limits.pids ?? DEFAULT_LIMITS.pids),
    cpu:
      overrides.cpu !== undefined
        ? parseOption('--cpu', overrides.cpu, parseCores, 'e.g. --cpu 1.5 (cores)')
        : (profile.limits.cpu ?? defaultCpu()),
    timeoutMs:
      overrides.timeout !== undefined
        ? parseOption('--timeout', overrides.timeout, parseDuration, 'e.g. --timeout 30m')
        : (profile.limits.timeout ?? null),
  };
  // The same bounds the config schema puts on limits.timeout: a 0 ms timer kills the run at once,
  // and Node fires a timer asked to wait longer than MAX_TIMER_MS after 1 ms (SBX-15).
  if (overrides.timeout !== undefined && limits.timeoutMs !== null) {
    if (limits.timeoutMs <= 0)
      throw usage(
        `--timeout '${overrides.timeout}' must be longer than 0`,
        'e.g. --timeout 30m, or leave it out for no timeout',
      );
    if (limits.timeoutMs > MAX_TIMER_MS) {
      throw usage(
        `--timeout '${overrides.timeout}' is longer than the longest timer warden can set (${MAX_TIMER_MS} ms, about 24.8 days)`,
        'e.g. --timeout 24d or less, or leave it out for no timeout',
      );
    }
  }
  if (limits.memoryBytes < 16 * 1024 * 1024)
    throw usage('--memory must be at least 16MiB', 'smaller limits kill the sandbox setup itself');
  if (limits.pids < 16) throw usage('--pids must be at least 16', 'the sandbox needs a few processes of its own');

  const env: Record<string, string> = {};
  for (const name of profile.env.pass) {
    const value = hostEnv[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, profile.env.set);
  for (const item of overrides.env ?? []) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!ENV_NAME.test(name))
      throw usage(`--env '${item}': '${name}' is not a valid variable name`, 'use NAME or NAME=VALUE');
    if ((RESERVED_ENV as readonly string[]).includes(name) || name.startsWith('WARDEN_'))
      throw usage(`--env ${name}: warden sets this variable itself`, 'remove it');
    if (eq < 0) {
      const value = hostEnv[name];
      if (value !== undefined) env[name] = value;
    } else {
      env[name] = item.slice(eq + 1);
    }
  }

  const agentName = overrides.agent ?? basename(command[0] ?? 'agent');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(agentName))
    throw usage(`--agent '${agentName}' is not a valid agent name`, 'letters, digits, . _ - (max 64)');

  return deepFreeze({
    profileName,
    agentName,
    command: [...command],
    cwd: workspace !== null && isInside(realPathOrSelf(cwd), workspace) ? realPathOrSelf(cwd) : (workspace ?? '/'),
    workspace,
    readOnly,
    writable,
    deny,
    home: profile.home,
    networkAllow: allow,
    limits,
    env,
    acceptMissingLimits: overrides.acceptMissingLimits ?? false,
  });
}

/**
 * The real paths of `--ro` values, relative ones resolved against the cwd once. A value must name
 * something that exists; whether it may be shown (never warden's state) is checked against the
 * never-visible paths when the run starts (run-agent.ts), which know the state dir.
 */
function resolveReadOnlyFlags(values: readonly string[], cwd: string): string[] {
  if (values.length > MAX_RO_PATHS) throw usage(`too many --ro paths (${values.length})`, `at most ${MAX_RO_PATHS}`);
  const resolved: string[] = [];
  for (const value of values) {
    if (value === '' || value.length > 4096 || value.includes('\0'))
      throw usage(`--ro '${value.slice(0, 64)}' is not a path`, 'e.g. --ro ~/.gitconfig or --ro ../shared-docs');
    const abs = resolve(cwd, value);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      throw usage(
        `--ro ${abs} does not exist`,
        'name an existing file or directory (it is bound read-only at its own path)',
      );
    }
    if (!resolved.includes(real)) resolved.push(real);
  }
  return resolved;
}

export function pickProfile(config: WardenConfig, name: string): Profile {
  // Own keys only: 'constructor', 'toString' or '__proto__' must not find Object.prototype members.
  const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined;
  if (profile !== undefined) return profile;
  if (name === DEFAULT_PROFILE) return BUILTIN_DEFAULT_PROFILE;
  const known = Object.keys(config.profiles);
  throw new WardenError('PROFILE_NOT_FOUND', `profile '${name}' is not defined`, {
    hint:
      known.length > 0
        ? `defined profiles: ${known.join(', ')}`
        : 'define it under profiles: in warden.yaml (see docs/config.md)',
  });
}

/**
 * Refuses writable paths that resolve to a system directory (SBX-05). The schema checks the text
 * as written; only the real path shows that 'etc-link' or '/./usr' is /etc or /usr. The list's
 * own entries are resolved too, so /bin is caught where it is a symlink to /usr/bin.
 */
function refuseSystemDirectories(realPaths: readonly string[], label: string): void {
  if (realPaths.length === 0) return;
  const systemReal = new Set(NEVER_WRITABLE.map(realPathOrSelf));
  for (const real of realPaths) {
    if (!isNeverWritable(real) && !systemReal.has(real)) continue;
    throw new WardenError('PATH_POLICY', `${label}: ${real} is a system directory and cannot be writable`, {
      hint: `name a narrower directory (never writable: ${NEVER_WRITABLE.join(', ')})`,
    });
  }
}

/**
 * The real path of a workspace given as `path` (absolute); WORKSPACE_INVALID when it does not
 * exist or is not a directory. Shared by `warden run` and the standalone gateway.
 */
export function existingWorkspaceDirectory(path: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new WardenError('WORKSPACE_INVALID', `workspace ${path} does not exist`, {
      hint: 'create it or pass another --workspace',
    });
  }
  if (!statSync(real).isDirectory())
    throw new WardenError('WORKSPACE_INVALID', `workspace ${path} is not a directory`, {
      hint: 'pass a directory to --workspace',
    });
  return real;
}

function resolveWorkspace(option: string | null | undefined, cwd: string): string | null {
  if (option === null) return null;
  const real = existingWorkspaceDirectory(resolve(cwd, option ?? '.'));
  if (real === '/')
    throw new WardenError('WORKSPACE_INVALID', 'the workspace cannot be /', {
      hint: 'run warden from a project directory or pass --workspace DIR',
    });
  // Bound read-write, a system directory would be the host's own (SBX-05): /root, /home, /etc…
  if (isNeverWritable(real))
    throw new WardenError('WORKSPACE_INVALID', `the workspace cannot be the system directory ${real}`, {
      hint: 'run warden from a project directory or pass --workspace DIR',
    });
  return real;
}

function parseOption<T>(flag: string, value: string, parse: (v: string) => T | undefined, example: string): T {
  const parsed = parse(value);
  if (parsed === undefined) throw usage(`${flag} '${value}' is not valid`, example);
  return parsed;
}

/** A process count within what the schema allows for limits.pids (the kernel's PID_MAX_LIMIT). */
function parseCount(text: string): number | undefined {
  return /^\d{1,7}$/.test(text) && Number(text) <= 4_194_304 ? Number(text) : undefined;
}

function parseCores(text: string): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const cores = Number(text);
  return cores > 0 && cores <= 4096 ? cores : undefined;
}

/** 90% of the host's CPUs, so a runaway agent leaves room for the host (SBX-14). */
export function defaultCpu(): number {
  return Math.round(availableParallelism() * DEFAULT_LIMITS.cpuShareOfHost * 100) / 100;
}

function usage(message: string, hint: string): WardenError {
  return new WardenError('USAGE', message, { hint });
}
