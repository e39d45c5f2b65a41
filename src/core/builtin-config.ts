/**
 * The built-in config and profile, used when no warden.yaml exists or it defines no 'default'
 * profile. Plain objects typed by the schema (type imports only: the zod schema is never built for
 * them); a unit test checks that they equal what the schema produces.
 */
import type { Profile, WardenConfig } from './config.js';
import { CONFIG_VERSION, DEFAULT_MCP_SCAN, DEFAULT_SANDBOX_USER, deepFreeze } from './config-defaults.js';

/** The built-in profile used when no config file exists or it does not define 'default'. */
export const BUILTIN_DEFAULT_PROFILE: Profile = deepFreeze({
  description: 'Built-in default: workspace read-write, no network, default limits.',
  filesystem: { read_only: [], writable: [], deny: [] },
  network: { allow: [] },
  limits: {},
  env: { pass: [], set: {} },
  home: 'ephemeral',
  mcp: {
    allow: [],
    deny: [],
    policies: [],
    sensitive_arguments: [],
    call_timeout: 60_000,
    relay: {},
    required: [],
    scan: structuredClone(DEFAULT_MCP_SCAN),
    names: 'prefixed',
  },
});

/** The config used when no warden.yaml is found. */
export const BUILTIN_CONFIG: WardenConfig = deepFreeze({
  version: CONFIG_VERSION,
  sandbox: { user: DEFAULT_SANDBOX_USER },
  profiles: {},
  catalog: { file: 'warden.catalog.yaml', unpinned: [] },
  secrets: { store: 'file', file: {} },
  servers: {},
});
