/**
 * The warden.yaml schema: one zod schema per section, every field described (the descriptions
 * become the JSON Schema editors show and docs/config.md mirrors them), security rules inside
 * the schema. Parsed once, frozen; a bad config is an error, never a fallback to defaults.
 */
import { z } from 'zod';
import { MAX_TIMER_MS, parseByteSize, parseDuration } from './units.js';
import { parseHostPattern } from './host-pattern.js';

export { CONFIG_VERSION, DEFAULT_PROFILE, DEFAULT_SANDBOX_USER, RESERVED_ENV } from './config-defaults.js';

import {
  CONFIG_VERSION,
  DEFAULT_MCP_SCAN,
  DEFAULT_SANDBOX_USER,
  EVERY_PATH_ARGUMENT,
  HOME_MODES,
  NEVER_WRITABLE,
  PROFILE_NAME,
  RESERVED_ENV,
  SERVER_NAME,
  isNeverWritable,
} from './config-defaults.js';
import { wildcardBreadthProblem } from './wildcard-breadth.js';
import { parseSecretRef } from './secret-names.js';

/** Server names: no '_' so that the exposed `server__tool` names split unambiguously (GW-03). */
export { SERVER_NAME };
/** A tool or prompt name in a grant: an upstream name, or a glob with '*' (e.g. 'read_*', '*'). */
const GRANT_NAME = /^[A-Za-z0-9_.*/-]{1,128}$/;
/** An argument name in a condition (top-level key of the tool's arguments). */
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/**
 * A path argument in a condition or in `path_arguments`: a top-level name, or names joined by '.'
 * for a property of a nested object (array levels are implicit: `files.path` is the `path` of
 * every element of `files`).
 */
const ARG_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}(\.[A-Za-z_][A-Za-z0-9_-]{0,63}){0,7}$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const pathEntry = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'path contains a NUL byte')
  .refine(
    (p) => p.startsWith('/') || !p.split('/').includes('..'),
    "a relative path must stay inside the workspace (no '..')",
  )
  .refine((p) => !p.startsWith('~'), "'~' is not expanded; write the absolute path");

const pathList = (what: string) => z.array(pathEntry).max(256).default([]).describe(what);

const byteSize = z.union([z.string(), z.number().int().positive()]).transform((v, ctx) => {
  const bytes = typeof v === 'number' ? v : parseByteSize(v);
  if (bytes === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `'${String(v)}' is not a size; write e.g. 512MiB, 2GiB or a number of bytes`,
    });
    return z.NEVER;
  }
  if (bytes < 16 * 1024 * 1024) {
    ctx.addIssue({
      code: 'custom',
      message: 'memory limit must be at least 16MiB (smaller limits kill the sandbox setup itself)',
    });
    return z.NEVER;
  }
  return bytes;
});

const duration = z.union([z.string(), z.number().positive()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v);
  // Number.isSafeInteger also refuses Infinity and NaN (a number of seconds too large for ms).
  if (ms === undefined || !Number.isSafeInteger(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `'${String(v)}' is not a duration; write e.g. 90s, 15m or 1h30m` });
    return z.NEVER;
  }
  // Durations arm Node timers, which fire after 1 ms when asked to wait longer than this (SBX-15).
  if (ms > MAX_TIMER_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `'${String(v)}' is longer than the longest timer warden can set (${MAX_TIMER_MS} ms, about 24.8 days); write e.g. 24d or less`,
    });
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
    writable: pathList(
      'Extra paths bound read-write at the same path. Absolute, or relative to the workspace. System directories (/, /usr, /etc, …) are refused.',
    ).refine(
      // Normalised, not just trailing slashes stripped: '//etc' or '/tmp/../etc' is /etc (SBX-05).
      (list) => list.every((p) => !isNeverWritable(p)),
      {
        message: `a system directory cannot be writable (refused: ${NEVER_WRITABLE.join(', ')}); name a narrower directory`,
      },
    ),
    deny: pathList(
      'Paths hidden from the sandbox entirely (neither readable nor writable), e.g. .env or secrets/. Absolute, or relative to the workspace. Wins over read_only and writable.',
    ),
  })
  .describe(
    'Filesystem policy. A mandatory deny list (.git/hooks, .git/config, shell rc files, .mcp.json, .vscode, …) always applies on top and cannot be turned off.',
  );

export const networkSchema = z
  .strictObject({
    allow: z
      .array(hostPatternEntry)
      .max(1024)
      .default([])
      .describe(
        "Hosts the agent may reach through the egress proxy: 'api.example.com' (ports 80/443), 'host:8443', 'host:*', '*.example.com' (subdomains only), '203.0.113.7:443', '[2001:db8::1]:443'. Loopback/private/link-local addresses are refused unless listed exactly. '*' and public-suffix wildcards ('*.com') are rejected.",
      ),
  })
  .describe('Network policy. The sandbox has no network except the egress proxy; nothing is allowed unless listed.');

export const limitsSchema = z
  .strictObject({
    memory: byteSize
      .optional()
      .describe(
        'Memory limit for the whole sandbox (cgroup), e.g. 4GiB. Exceeding it kills the sandbox (exit 123). Default: 4GiB.',
      ),
    pids: z
      .number()
      .int()
      .min(16)
      .max(4_194_304)
      .optional()
      .describe('Maximum number of processes and threads in the sandbox (cgroup). Default: 1024.'),
    cpu: z
      .number()
      .positive()
      .max(4096)
      .optional()
      .describe(
        'CPU quota in cores (cgroup CFS quota), e.g. 1.5. Default: 90% of the host CPUs, so the host stays responsive.',
      ),
    timeout: duration
      .optional()
      .describe(
        'Wall-clock limit, e.g. 30m. When it expires warden kills the whole sandbox (exit 124). Default: none.',
      ),
  })
  .describe(
    'Resource limits. When a cgroup controller is unavailable warden refuses to run unless --accept-missing-limits is given.',
  );

export const envSchema = z
  .strictObject({
    pass: z
      .array(z.string().regex(ENV_NAME, 'not a valid environment variable name'))
      .max(256)
      .default([])
      .describe(
        'Host environment variables copied into the sandbox by name (e.g. TERM). Nothing else from the host environment enters.',
      ),
    set: z
      .record(z.string().regex(ENV_NAME, 'not a valid environment variable name'), z.string().max(32_768))
      .default({})
      .describe('Variables set to fixed values inside the sandbox.'),
  })
  .superRefine((env, ctx) => {
    const reserved = new Set<string>(RESERVED_ENV);
    for (const name of [...env.pass, ...Object.keys(env.set)]) {
      if (reserved.has(name) || name.startsWith('WARDEN_')) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} is set by warden (it carries the proxy wiring); remove it from the profile`,
        });
      }
    }
  })
  .describe('Environment of the sandboxed command.');

/** A secret reference (`NAME`, `file:NAME`, `env:VAR`, `vault:PATH#FIELD`; see secrets in docs/config.md). */
const secretRef = z
  .string()
  .max(512)
  .superRefine((text, ctx) => {
    try {
      parseSecretRef(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

/** An HTTP header name (RFC 9110 token), at most 64 characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
/** Headers the MCP transport, HTTP itself or the egress proxy own: a config may not set them. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'proxy-authorization',
  'proxy-connection',
]);

/** Server-to-client requests the gateway can relay to the agent (profiles.<name>.mcp.relay). */
export const RELAY_FEATURES = ['sampling', 'elicitation', 'roots'] as const;
export type RelayFeature = (typeof RELAY_FEATURES)[number];

const serverName = z
  .string()
  .regex(
    SERVER_NAME,
    'server names are lower-case letters, digits and - (max 32; no _ so that exposed names `server__tool` stay unambiguous)',
  );

/** One condition on one argument of a tool call; exactly one kind per condition. */
export const argumentConditionSchema = z
  .strictObject({
    under: z
      .array(pathEntry)
      .min(1)
      .max(64)
      .optional()
      .describe(
        "The argument is a path that must stay under one of these directories (real paths; '${workspace}' stands for the run's workspace). Warden resolves the argument as the server would open it (relative to the workspace, symlinks followed one component at a time, Unicode compared in NFC) and forwards the resolved path; a path that leaves these directories at any step, or goes through a dangling or looping symlink, is refused. See docs/config.md for what this guarantees and what it cannot.",
      ),
    host_in: z
      .array(hostPatternEntry)
      .min(1)
      .max(256)
      .optional()
      .describe(
        "The argument is an http(s) URL whose host must match one of these patterns ('api.example.com', '*.example.com'). The normalised URL is what the server receives.",
      ),
    one_of: z
      .array(z.union([z.string().max(1024), z.number().int(), z.boolean()]))
      .min(1)
      .max(256)
      .optional()
      .describe('The argument must equal one of these values.'),
  })
  .refine((c) => [c.under, c.host_in, c.one_of].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of under, host_in, one_of per argument condition',
  });

const grantNames = (what: string) =>
  z
    .array(z.string().regex(GRANT_NAME, `not a ${what} name or glob`))
    .max(1024)
    .default([]);

export const mcpGrantSchema = z
  .strictObject({
    server: serverName.describe('A server from the top-level servers section.'),
    tools: grantNames('tool').describe(
      "Tools of that server, by their upstream names; '*' globs allowed ('read_*', '*' = every tool the server lists, including ones it adds later).",
    ),
    prompts: grantNames('prompt').describe('Prompts of that server, by name; globs allowed.'),
    resources: z
      .array(z.string().min(1).max(2048))
      .max(1024)
      .default([])
      .describe("Resources of that server, by URI; '*' matches any characters (e.g. 'file:///docs/*')."),
    when: z
      .record(
        z.string().refine((k) => k === EVERY_PATH_ARGUMENT || ARG_KEY.test(k), {
          message:
            "not an argument name ('name', 'outer.inner' for a nested path argument, or '*' for every path argument)",
        }),
        argumentConditionSchema,
      )
      .default({})
      .describe(
        "Conditions on the arguments of the granted tools; all must hold. A call whose argument does not satisfy them is refused. A path condition (`under`) may name a nested argument ('files.path') or '*' (every path argument of the tool); a grant with a path condition must cover every path argument of every tool it grants, or the gateway does not start.",
      ),
    path_arguments: z
      .array(z.string().regex(ARG_KEY, 'not an argument name'))
      .min(1)
      .max(64)
      .optional()
      .describe(
        "The arguments of the granted tools that hold paths, instead of those warden finds in each tool's inputSchema (for when warden mistakes an argument for a path, or misses one). Only with an `under` condition.",
      ),
  })
  .refine((g) => g.tools.length + g.prompts.length + g.resources.length > 0, {
    message: 'name at least one of tools, prompts, resources',
  })
  .superRefine((g, ctx) => {
    for (const [key, condition] of Object.entries(g.when)) {
      if (condition.under === undefined && (key === EVERY_PATH_ARGUMENT || key.includes('.')))
        ctx.addIssue({
          code: 'custom',
          path: ['when', key],
          message: `'${key}' names path arguments: only an 'under' condition can use it (host_in and one_of take a top-level argument name)`,
        });
    }
    if (g.path_arguments !== undefined && !Object.values(g.when).some((c) => c.under !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['path_arguments'],
        message: "path_arguments only matters with an 'under' condition in the same grant; remove it or add one",
      });
  });

const severityActions = <T extends string>(values: readonly [T, ...T[]], high: T, medium: T, low: T, what: string) =>
  z
    .strictObject({
      high: z.enum(values).default(high).describe(`What a high-severity finding in ${what} does. Default: ${high}.`),
      medium: z
        .enum(values)
        .default(medium)
        .describe(`What a medium-severity finding in ${what} does. Default: ${medium}.`),
      low: z.enum(values).default(low).describe(`What a low-severity finding in ${what} does. Default: ${low}.`),
    })
    .default({ high, medium, low });

export const scanSchema = z
  .strictObject({
    definitions: severityActions(
      ['quarantine', 'warn', 'allow'],
      'quarantine',
      'warn',
      'allow',
      "a server's definitions (tools, prompts, resources, instructions)",
    ).describe(
      "By the highest severity the scanner finds in a definition: 'quarantine' hides it and refuses calls to it (a tool can then be approved after review with `warden tools approve`), 'warn' shows it and records the findings, 'allow' records nothing. See docs/scanning.md.",
    ),
    outputs: severityActions(
      ['block', 'wrap', 'annotate', 'allow'],
      'wrap',
      'annotate',
      'allow',
      'a tool result or resource contents',
    ).describe(
      "By the highest severity the scanner finds in an answer (SCAN-07): 'block' withholds it (the agent gets an error result saying why), 'wrap' quotes every text as untrusted data between random markers, 'annotate' adds a warning before it, 'allow' passes it. Every finding is recorded.",
    ),
    pin: z
      .enum(['first-sight', 'approve', 'off'])
      .default('first-sight')
      .describe(
        "When tool definitions are pinned (SCAN-05): 'first-sight' pins a server's tools the first time they are seen, 'approve' shows a tool only after `warden tools approve`, 'off' pins nothing. A pinned tool whose definition changes, and a tool that appears later, are hidden until approved. Default: first-sight.",
      ),
  })
  .describe("What the scanner's findings and the tool pins do for this profile (docs/scanning.md).");

export const mcpSchema = z
  .strictObject({
    allow: z
      .array(mcpGrantSchema)
      .max(1024)
      .default([])
      .describe('What the agent may see and use. Nothing is granted unless listed (default deny).'),
    deny: z
      .array(mcpGrantSchema)
      .max(1024)
      .default([])
      .describe(
        'What the agent may never use, whatever allow says (forbid wins). With `when`, only calls whose arguments match are refused.',
      ),
    policies: z
      .array(pathEntry)
      .max(64)
      .default([])
      .describe(
        'Extra Cedar policy files (relative to warden.yaml), validated against the Warden Cedar schema at start; see docs/config.md.',
      ),
    sensitive_arguments: z
      .array(z.string().regex(ARG_NAME, 'not an argument name'))
      .max(256)
      .default([])
      .describe(
        'Argument names recorded in the audit log only as HMAC digests (names like password, token, secret, api_key, authorization are always).',
      ),
    call_timeout: duration
      .default(60_000)
      .describe('Longest a tool call may take before the agent gets a timeout error, e.g. 30s. Default: 60s.'),
    relay: z
      .record(serverName, z.array(z.enum(RELAY_FEATURES)).max(RELAY_FEATURES.length))
      .default({})
      .describe(
        "Requests a server may send to the agent, relayed by the gateway: 'sampling' (the agent's model answers a prompt the server wrote), 'elicitation' (the server asks the user for input), 'roots' (the server learns the agent's roots). Default: none; the gateway then does not offer them to the server.",
      ),
    required: z
      .array(serverName)
      .max(256)
      .default([])
      .describe(
        'Granted servers the gateway cannot do without: if one does not start, the gateway (and warden run) does not start either. Any other server that does not start is left out, its tools absent, with a warning and an mcp.server failed event.',
      ),
    scan: scanSchema.default(structuredClone(DEFAULT_MCP_SCAN)),
    names: z
      .enum(['prefixed', 'upstream'])
      .default('prefixed')
      .describe(
        "How the agent sees tool and prompt names: 'prefixed' (default) as server__tool, 'upstream' as each server names them. With 'upstream' the gateway refuses to start (GATEWAY_START_FAILED, naming the servers and the name) when two granted servers offer one name. Grants, policies and the audit log always use the server and its own name.",
      ),
  })
  .describe('MCP tools, prompts and resources this profile grants through the gateway.');

/** A catalog entry name (the catalog's own schema is in src/registry/catalog-schema.ts). */
const CATALOG_ENTRY = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** The catalog file's default name, beside warden.yaml. */
export const CATALOG_FILE = 'warden.catalog.yaml';

export const catalogSchema = z
  .strictObject({
    file: z
      .string()
      .min(1)
      .max(4096)
      .refine((p) => !p.includes('\0'), 'path contains a NUL byte')
      .default(CATALOG_FILE)
      .describe(
        'The catalog of pinned servers, relative to this file (default: warden.catalog.yaml beside it). While it exists, a server it does not pin is refused unless catalog.unpinned lists it.',
      ),
    unpinned: z
      .array(serverName)
      .max(256)
      .default([])
      .describe(
        'Servers allowed to start without a catalog pin while a catalog exists (e.g. one under development); a package name that looks like a typosquat is then a warning instead of a refusal. Default: none.',
      ),
  })
  .describe('Provenance of MCP servers (SCAN-06): the catalog of pinned servers, and which may run unpinned.');

export const serverSchema = z
  .strictObject({
    description: z.string().max(500).optional().describe('What this server is for, for people reading the file.'),
    command: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe(
        'A stdio server: the program to start (in its own sandbox), a name found on its PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) or an absolute path; never one the agent can write.',
      ),
    args: z
      .array(
        z
          .string()
          .max(4096)
          .refine((a) => !a.includes('\0'), 'argument contains a NUL byte'),
      )
      .max(256)
      .default([])
      .describe("Arguments of the command; '${workspace}' is replaced by the run's workspace."),
    catalog: z
      .string()
      .regex(CATALOG_ENTRY, 'catalog entry names are lower-case letters, digits and - (max 64)')
      .optional()
      .describe(
        "Start the catalog's pinned entry of this name (warden.catalog.yaml, see catalog.file): an npm package from warden's store, a local program whose sha256 is checked, or a remote URL. A pin that does not verify keeps the server from starting.",
      ),
    url: z
      .url({ protocol: /^https?$/, error: 'url must be an http(s) URL' })
      .max(2048)
      .refine((u) => !new URL(u).hostname.includes('*'), 'url must name one host, not a wildcard')
      .optional()
      .describe(
        'A remote Streamable HTTP server, reached through the egress proxy (its host is allowed for the gateway only).',
      ),
    headers: z
      .record(
        z.string().regex(HEADER_NAME, 'not an HTTP header name'),
        z
          .strictObject({
            from_env: z
              .string()
              .regex(ENV_NAME, 'not a valid environment variable name')
              .optional()
              .describe("The variable of warden's own environment that holds the value, read when the server starts."),
            from_secret: secretRef
              .optional()
              .describe(
                'The secret that holds the value (NAME or file:NAME, env:VAR, vault:PATH#FIELD), read when the server starts.',
              ),
          })
          .refine(
            (h) => (h.from_env === undefined) !== (h.from_secret === undefined),
            'give exactly one of from_env and from_secret',
          ),
      )
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) {
          if (RESERVED_HEADERS.has(name.toLowerCase()))
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `${name} is set by the MCP transport or the proxy; remove it`,
            });
        }
      })
      .default({})
      .describe(
        "HTTP headers sent to a remote (url) server on every request, e.g. `Authorization: { from_secret: mcp-token }` or `{ from_env: MCP_TOKEN }`. Values come from the secret store or warden's environment, never from this file, and reach only the server's bridge sandbox (SEC-04).",
      ),
    secret_env: z
      .record(z.string().regex(ENV_NAME, 'not a valid environment variable name'), secretRef)
      .superRefine((vars, ctx) => {
        for (const name of Object.keys(vars)) {
          if (RESERVED_ENV.includes(name as (typeof RESERVED_ENV)[number]) || name.startsWith('WARDEN_'))
            ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set by warden; use another name` });
        }
      })
      .default({})
      .describe(
        "Environment variables of this server's sandbox whose values come from secrets, e.g. `GITHUB_TOKEN: github` (NAME or file:NAME, env:VAR, vault:PATH#FIELD). Read when the server starts; visible only inside this server's sandbox, never the agent's (SEC-04).",
      ),
    workspace: z
      .enum(['none', 'read-only', 'read-write'])
      .default('none')
      .describe("Whether the server's sandbox sees the run's workspace, and how. Default: none."),
    filesystem: filesystemSchema.default({ read_only: [], writable: [], deny: [] }),
    network: networkSchema.default({ allow: [] }),
    limits: limitsSchema.default({}),
    env: envSchema.default({ pass: [], set: {} }),
    start_timeout: duration
      .default(60_000)
      .refine((ms) => ms <= 600_000, 'start_timeout is at most 10m')
      .describe(
        'Longest the server may take to start and answer initialize and its first lists, e.g. 3m for an npx or uvx server that fetches its package on a slow network. Default: 60s.',
      ),
  })
  .refine((s) => [s.command, s.url, s.catalog].filter((v) => v !== undefined).length === 1, {
    message:
      'give one of command (a stdio server), url (a remote server) or catalog (a pinned catalog entry), and only one',
  })
  .refine((s) => s.url !== undefined || s.catalog !== undefined || Object.keys(s.headers).length === 0, {
    message: 'headers apply to a remote (url) server only (or a catalog entry that is one)',
  })
  .describe('An MCP tool server the gateway may start (stdio, in its own sandbox) or reach (remote URL).');

export const profileSchema = z
  .strictObject({
    description: z.string().max(500).optional().describe('What this profile is for.'),
    filesystem: filesystemSchema.default({ read_only: [], writable: [], deny: [] }),
    network: networkSchema.default({ allow: [] }),
    limits: limitsSchema.default({}),
    env: envSchema.default({ pass: [], set: {} }),
    home: z
      .enum(HOME_MODES)
      .default('ephemeral')
      .describe(
        "The agent's $HOME (/home/agent). 'ephemeral': a fresh, empty tmpfs every run. 'persistent': the profile's own directory under the state dir (<state>/homes/<profile>), kept between runs so logins and caches survive; never shared with another profile; concurrent runs of this profile share it. Default: ephemeral.",
      ),
    mcp: mcpSchema.default({
      allow: [],
      deny: [],
      policies: [],
      sensitive_arguments: [],
      call_timeout: 60_000,
      relay: {},
      required: [],
      scan: structuredClone(DEFAULT_MCP_SCAN),
      names: 'prefixed',
    }),
  })
  .describe('A named set of permissions for one kind of task.');

export const sandboxSchema = z
  .strictObject({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'not a valid user name')
      .default(DEFAULT_SANDBOX_USER)
      .describe(
        'The unprivileged user sandboxes run as when warden is started as root (created by scripts/setup.sh). Ignored when warden runs as an ordinary user.',
      ),
    limits: z
      .enum(['required', 'best-effort'])
      .optional()
      .describe(
        "What to do when a resource limit cannot be held for the whole sandbox (no cgroup controller for it): 'required' refuses to run (LIMITS_UNAVAILABLE); 'best-effort' runs with what the host allows (per-process rlimits, or nothing) and says which limits hold. Applies to the agent's and the MCP servers' sandboxes alike. Default: required when warden runs as root, best-effort as an ordinary user.",
      ),
  })
  .describe('How sandboxes are created.');

const absolutePath = z.string().regex(/^\//, 'must be an absolute path').max(1024);

export const secretsSchema = z
  .strictObject({
    store: z
      .enum(['file', 'vault'])
      .default('file')
      .describe(
        'Where `warden secrets set|ls|rm` work and what a bare secret NAME refers to: the encrypted file store, or Vault/OpenBao (secrets.vault). Default: file.',
      ),
    file: z
      .strictObject({
        path: absolutePath
          .optional()
          .describe('The encrypted store (AES-256-GCM, mode 0600). Default: <state_dir>/secrets.enc.'),
        key_file: absolutePath
          .optional()
          .describe(
            'The key file (base64 of 32 random bytes, mode 0600; made by the first `warden secrets set`). Default: <state_dir>/secrets.key. Keep it apart from the store (another disk, a mounted secret) for protection at rest.',
          ),
        key_env: z
          .string()
          .regex(ENV_NAME, 'not a valid environment variable name')
          .optional()
          .describe(
            "Take the key from this variable of warden's environment instead of a key file (e.g. in CI). Default: none.",
          ),
      })
      .refine((f) => f.key_env === undefined || f.key_file === undefined, 'give key_file or key_env, not both')
      .default({})
      .describe('The encrypted file store.'),
    vault: z
      .strictObject({
        address: z
          .url({ protocol: /^https?$/, error: 'address must be an http(s) URL' })
          .max(2048)
          .describe('The Vault or OpenBao server, e.g. https://vault.example.com:8200.'),
        mount: z
          .string()
          .regex(/^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/, 'a mount path of letters, digits, _ and -')
          .max(128)
          .default('secret')
          .describe('The KV version 2 secrets engine mount. Default: secret.'),
        prefix: z
          .string()
          .regex(/^(?:[A-Za-z0-9_.-]+\/)*$/, "a path below the mount ending in '/', or empty")
          .max(256)
          .default('warden/')
          .describe('Where `warden secrets set NAME` stores NAME, below the mount. Default: warden/.'),
        token_env: z
          .string()
          .regex(ENV_NAME, 'not a valid environment variable name')
          .default('VAULT_TOKEN')
          .describe("The variable of warden's environment holding the Vault token. Default: VAULT_TOKEN."),
        namespace: z.string().max(256).optional().describe('Vault Enterprise / OpenBao namespace, if any.'),
        ca_file: absolutePath
          .optional()
          .describe("A PEM bundle to verify the server's certificate with, instead of the system's."),
      })
      .optional()
      .describe('HashiCorp Vault or OpenBao (KV version 2), for `vault:` references and secrets.store: vault.'),
  })
  .refine((s) => s.store !== 'vault' || s.vault !== undefined, {
    message: 'secrets.store is vault but secrets.vault is not configured',
    path: ['vault'],
  })
  .describe(
    'Where secrets come from: never written in this file, never shown to the agent; given to MCP servers (secret_env, headers) inside their own sandboxes.',
  );

export const configSchema = z
  .strictObject({
    version: z.literal(CONFIG_VERSION).describe('Config format version; must be 1.'),
    state_dir: z
      .string()
      // A regex, not .startsWith(): zod renders startsWith as the non-standard JSON Schema format
      // "starts_with", which validators such as Ajv refuse.
      .regex(/^\//, 'state_dir must be an absolute path')
      .max(1024)
      .optional()
      .describe(
        'Where warden keeps its audit log and keys. Default: $WARDEN_STATE_DIR, else /var/lib/warden for root, else ~/.local/state/warden.',
      ),
    sandbox: sandboxSchema.default({ user: DEFAULT_SANDBOX_USER }),
    profiles: z
      .record(
        z.string().regex(PROFILE_NAME, 'profile names are lower-case letters, digits, - and _ (max 64)'),
        profileSchema,
      )
      .default({})
      .describe(
        "Named profiles; 'default' is used when --profile is not given (a built-in one applies if the file does not define it).",
      ),
    catalog: catalogSchema.default({ file: CATALOG_FILE, unpinned: [] }),
    secrets: secretsSchema.default({ store: 'file', file: {} }),
    servers: z
      .record(serverName, serverSchema)
      .default({})
      .describe('MCP tool servers. A server is started only for runs whose profile grants something of it.'),
  })
  .superRefine((config, ctx) => {
    config.catalog.unpinned.forEach((server, index) => {
      if (!Object.hasOwn(config.servers, server))
        ctx.addIssue({
          code: 'custom',
          path: ['catalog', 'unpinned', index],
          message: `no server '${server}' in servers (known: ${Object.keys(config.servers).join(', ') || 'none'})`,
        });
    });
    // A grant naming a server that does not exist is a typo that would silently grant nothing.
    for (const [profileName, profile] of Object.entries(config.profiles)) {
      for (const list of ['allow', 'deny'] as const) {
        profile.mcp[list].forEach((grant, index) => {
          if (!Object.hasOwn(config.servers, grant.server)) {
            ctx.addIssue({
              code: 'custom',
              path: ['profiles', profileName, 'mcp', list, index, 'server'],
              message: `no server '${grant.server}' in servers (known: ${Object.keys(config.servers).join(', ') || 'none'})`,
            });
          }
        });
      }
      profile.mcp.required.forEach((server, index) => {
        if (!profile.mcp.allow.some((grant) => grant.server === server)) {
          ctx.addIssue({
            code: 'custom',
            path: ['profiles', profileName, 'mcp', 'required', index],
            message: `'${server}' is not granted by this profile's mcp.allow, so it is never started`,
          });
        }
      });
      for (const server of Object.keys(profile.mcp.relay)) {
        if (!Object.hasOwn(config.servers, server)) {
          ctx.addIssue({
            code: 'custom',
            path: ['profiles', profileName, 'mcp', 'relay', server],
            message: `no server '${server}' in servers (known: ${Object.keys(config.servers).join(', ') || 'none'})`,
          });
        }
      }
    }
  })
  .describe('Warden configuration (warden.yaml).');

export type WardenConfig = z.output<typeof configSchema>;
export type Profile = z.output<typeof profileSchema>;
export type Limits = z.output<typeof limitsSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type McpPolicyConfig = z.output<typeof mcpSchema>;
export type McpGrant = z.output<typeof mcpGrantSchema>;
export type ArgumentCondition = z.output<typeof argumentConditionSchema>;

/** The JSON Schema for editors, generated from the same zod schema. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/warden-dev/warden/schema/warden.schema.json',
    title: 'warden.yaml',
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
