/**
 * The warden.yaml schema: one zod schema per section, every field described (the descriptions
 * become the JSON Schema editors show and docs/config.md mirrors them), security rules inside
 * the schema. Parsed once, frozen; a bad config is an error, never a fallback to defaults.
 */
import { z } from 'zod';
import { parseByteSize, parseDuration } from './units.js';
import { parseHostPattern } from './host-pattern.js';

export { CONFIG_VERSION, DEFAULT_PROFILE, DEFAULT_SANDBOX_USER, RESERVED_ENV } from './config-defaults.js';

import { CONFIG_VERSION, DEFAULT_SANDBOX_USER, RESERVED_ENV } from './config-defaults.js';
import { wildcardBreadthProblem } from './wildcard-breadth.js';

const PROFILE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Directories that must never be writable from a sandbox, whatever the profile says. */
const NEVER_WRITABLE = ['/', '/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/boot', '/proc', '/sys', '/dev', '/run', '/var', '/home', '/root', '/opt', '/srv'];

const pathEntry = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'path contains a NUL byte')
  .refine((p) => p.startsWith('/') || !p.split('/').includes('..'), "a relative path must stay inside the workspace (no '..')")
  .refine((p) => !p.startsWith('~'), "'~' is not expanded; write the absolute path");

const pathList = (what: string) => z.array(pathEntry).max(256).default([]).describe(what);

const byteSize = z
  .union([z.string(), z.number().int().positive()])
  .transform((v, ctx) => {
    const bytes = typeof v === 'number' ? v : parseByteSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `'${String(v)}' is not a size; write e.g. 512MiB, 2GiB or a number of bytes` });
      return z.NEVER;
    }
    if (bytes < 16 * 1024 * 1024) {
      ctx.addIssue({ code: 'custom', message: 'memory limit must be at least 16MiB (smaller limits kill the sandbox setup itself)' });
      return z.NEVER;
    }
    return bytes;
  });

const duration = z
  .union([z.string(), z.number().positive()])
  .transform((v, ctx) => {
    const ms = typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `'${String(v)}' is not a duration; write e.g. 90s, 15m or 1h30m` });
      return z.NEVER;
    }
    return ms;
  });

/** Validates one egress allow-list entry with the same parser the proxy uses. */
export const hostPatternEntry = z.string().superRefine((entry, ctx) => {
  const parsed = parseHostPattern(entry);
  const problem = parsed.ok ? wildcardBreadthProblem(parsed.value) : parsed.reason;
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `'${entry}': ${problem}` });
});

export const filesystemSchema = z
  .strictObject({
    read_only: pathList('Extra paths bound read-only at the same path. Absolute, or relative to the workspace.'),
    writable: pathList('Extra paths bound read-write at the same path. Absolute, or relative to the workspace. System directories (/, /usr, /etc, …) are refused.').refine(
      (list) => list.every((p) => !NEVER_WRITABLE.includes(p.replace(/\/+$/, '') || '/')),
      { message: `a system directory cannot be writable (refused: ${NEVER_WRITABLE.join(', ')}); name a narrower directory` },
    ),
    deny: pathList('Paths hidden from the sandbox entirely (neither readable nor writable), e.g. .env or secrets/. Absolute, or relative to the workspace. Wins over read_only and writable.'),
  })
  .describe('Filesystem policy. A mandatory deny list (.git/hooks, .git/config, shell rc files, .mcp.json, .vscode, …) always applies on top and cannot be turned off.');

export const networkSchema = z
  .strictObject({
    allow: z
      .array(hostPatternEntry)
      .max(1024)
      .default([])
      .describe("Hosts the agent may reach through the egress proxy: 'api.example.com' (ports 80/443), 'host:8443', 'host:*', '*.example.com' (subdomains only), '203.0.113.7:443', '[2001:db8::1]:443'. Loopback/private/link-local addresses are refused unless listed exactly. '*' and public-suffix wildcards ('*.com') are rejected."),
  })
  .describe('Network policy. The sandbox has no network except the egress proxy; nothing is allowed unless listed.');

export const limitsSchema = z
  .strictObject({
    memory: byteSize.optional().describe('Memory limit for the whole sandbox (cgroup), e.g. 4GiB. Exceeding it kills the sandbox (exit 123). Default: 4GiB.'),
    pids: z.number().int().min(16).max(4_194_304).optional().describe('Maximum number of processes and threads in the sandbox (cgroup). Default: 1024.'),
    cpu: z.number().positive().max(4096).optional().describe('CPU quota in cores (cgroup CFS quota), e.g. 1.5. Default: 90% of the host CPUs, so the host stays responsive.'),
    timeout: duration.optional().describe('Wall-clock limit, e.g. 30m. When it expires warden kills the whole sandbox (exit 124). Default: none.'),
  })
  .describe('Resource limits. When a cgroup controller is unavailable warden refuses to run unless --accept-missing-limits is given.');

export const envSchema = z
  .strictObject({
    pass: z
      .array(z.string().regex(ENV_NAME, 'not a valid environment variable name'))
      .max(256)
      .default([])
      .describe('Host environment variables copied into the sandbox by name (e.g. TERM). Nothing else from the host environment enters.'),
    set: z
      .record(z.string().regex(ENV_NAME, 'not a valid environment variable name'), z.string().max(32_768))
      .default({})
      .describe('Variables set to fixed values inside the sandbox.'),
  })
  .superRefine((env, ctx) => {
    const reserved = new Set<string>(RESERVED_ENV);
    for (const name of [...env.pass, ...Object.keys(env.set)]) {
      if (reserved.has(name) || name.startsWith('WARDEN_')) {
        ctx.addIssue({ code: 'custom', message: `${name} is set by warden (it carries the proxy wiring); remove it from the profile` });
      }
    }
  })
  .describe('Environment of the sandboxed command.');

export const profileSchema = z
  .strictObject({
    description: z.string().max(500).optional().describe('What this profile is for.'),
    filesystem: filesystemSchema.default({ read_only: [], writable: [], deny: [] }),
    network: networkSchema.default({ allow: [] }),
    limits: limitsSchema.default({}),
    env: envSchema.default({ pass: [], set: {} }),
  })
  .describe('A named set of permissions for one kind of task.');

export const sandboxSchema = z
  .strictObject({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'not a valid user name')
      .default(DEFAULT_SANDBOX_USER)
      .describe('The unprivileged user sandboxes run as when warden is started as root (created by scripts/setup.sh). Ignored when warden runs as an ordinary user.'),
  })
  .describe('How sandboxes are created.');

export const configSchema = z
  .strictObject({
    version: z.literal(CONFIG_VERSION).describe('Config format version; must be 1.'),
    state_dir: z
      .string()
      .startsWith('/', 'state_dir must be an absolute path')
      .max(1024)
      .optional()
      .describe('Where warden keeps its audit log and keys. Default: $WARDEN_STATE_DIR, else /var/lib/warden for root, else ~/.local/state/warden.'),
    sandbox: sandboxSchema.default({ user: DEFAULT_SANDBOX_USER }),
    profiles: z
      .record(z.string().regex(PROFILE_NAME, 'profile names are lower-case letters, digits, - and _ (max 64)'), profileSchema)
      .default({})
      .describe("Named profiles; 'default' is used when --profile is not given (a built-in one applies if the file does not define it)."),
  })
  .describe('Warden configuration (warden.yaml).');

export type WardenConfig = z.output<typeof configSchema>;
export type Profile = z.output<typeof profileSchema>;
export type Limits = z.output<typeof limitsSchema>;

/** The JSON Schema for editors, generated from the same zod schema. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/warden-dev/warden/schema/warden.schema.json',
    title: 'warden.yaml',
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
