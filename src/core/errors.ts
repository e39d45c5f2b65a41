/**
 * The registry of local errors. Every `WardenError` carries one of these stable string codes;
 * docs/errors.md documents each (a unit test keeps the two in step). Codes are never reused.
 *
 * JSON-RPC errors on the wire (gateway) are a separate family with numeric codes.
 */

/** Process exit codes warden itself uses. Everything else is the sandboxed command's own code. */
export const EXIT = {
  ok: 0,
  /** Usage or configuration error: nothing was run. */
  usage: 2,
  /** An integrity check failed (e.g. `warden audit verify` found a bad record). */
  integrity: 3,
  /** The command was killed by the kernel for exceeding the memory limit. */
  memoryLimit: 123,
  /** The command was killed by warden because the wall-clock timeout expired. */
  timeout: 124,
  /** Warden could not run the sandbox (host cannot isolate, internal failure). */
  wardenFailed: 125,
  /** The command was found but could not be executed. */
  notExecutable: 126,
  /** The command was not found inside the sandbox. */
  notFound: 127,
  /** You stopped the run at the terminal: Ctrl-C twice, and the command had not exited after the grace. */
  interrupted: 130,
} as const;

interface ErrorSpec {
  /** One line saying what went wrong, for docs/errors.md. */
  readonly summary: string;
  /** Exit code when this error ends the CLI. */
  readonly exit: number;
}

export const ERROR_CODES = {
  CONFIG_NOT_FOUND: {
    summary: 'The config file given with --config does not exist or cannot be read.',
    exit: EXIT.usage,
  },
  CONFIG_PARSE: { summary: 'The config file is not valid YAML (or has duplicate keys).', exit: EXIT.usage },
  CONFIG_INVALID: {
    summary: 'The config file does not match the schema; the message names the path inside the file and the fix.',
    exit: EXIT.usage,
  },
  CONFIG_TOO_LARGE: { summary: 'The config file is larger than the 1 MiB limit.', exit: EXIT.usage },
  PROFILE_NOT_FOUND: { summary: 'The profile named with --profile is not defined in the config.', exit: EXIT.usage },
  USAGE: { summary: 'A command-line argument is missing or invalid.', exit: EXIT.usage },
  SANDBOX_UNAVAILABLE: {
    summary:
      'This host cannot provide the sandbox (bwrap, socat, user namespaces or the sandbox user is missing); warden refuses to run unsandboxed.',
    exit: EXIT.wardenFailed,
  },
  SANDBOX_START_FAILED: {
    summary: 'bwrap could not set up the sandbox; the message quotes its reason.',
    exit: EXIT.wardenFailed,
  },
  LIMITS_UNAVAILABLE: {
    summary:
      'A resource-limit controller (cgroup memory, pids or cpu) is unavailable; pass --accept-missing-limits to run without it.',
    exit: EXIT.wardenFailed,
  },
  WORKSPACE_INVALID: {
    summary: 'The workspace directory does not exist, is not a directory, or is not usable by the sandbox user.',
    exit: EXIT.usage,
  },
  PATH_POLICY: {
    summary:
      'A path in the config or given with --ro is unsafe: a system directory as writable, a path that would show what must stay hidden (a profile deny, the state dir), or an MCP server program the agent can write.',
    exit: EXIT.usage,
  },
  HOME_UNUSABLE: {
    summary:
      "A profile's persistent home (<state>/homes/<profile>) cannot be used: it is a symlink or not a directory, belongs to another uid than the sandbox's, or cannot be created; the message names the fix (usually `warden home rm PROFILE`).",
    exit: EXIT.wardenFailed,
  },
  EGRESS_START_FAILED: { summary: 'The egress proxy could not listen on its socket.', exit: EXIT.wardenFailed },
  AUDIT_UNAVAILABLE: {
    summary: 'The audit store cannot be opened or written; warden fails closed and does not run.',
    exit: EXIT.wardenFailed,
  },
  AUDIT_CORRUPT: {
    summary:
      'The audit store is not a warden audit store, its schema is newer than this warden, or audit.head does not match the log (records were altered or removed); nothing more is recorded until it is investigated.',
    exit: EXIT.integrity,
  },
  AUDIT_NOT_FOUND: { summary: 'No run with that id exists in the audit log.', exit: EXIT.usage },
  STATE_DIR: { summary: 'The state directory cannot be created or has unsafe permissions.', exit: EXIT.wardenFailed },
  POLICY_INVALID: {
    summary:
      "A Cedar policy (compiled from the profile's mcp section, or from a file it names) does not parse or does not validate against the Warden schema; the gateway does not start.",
    exit: EXIT.usage,
  },
  POLICY_FILE: {
    summary: 'A Cedar policy file named in mcp.policies cannot be read, is larger than 1 MiB, or reuses a policy id.',
    exit: EXIT.usage,
  },
  POLICY_UNCHECKABLE: {
    summary:
      "A grant's argument conditions cannot be checked on a tool it grants (a path argument they do not cover, an argument the tool does not have, an inputSchema warden cannot read) or a condition directory is not a real path; the gateway does not start.",
    exit: EXIT.usage,
  },
  GATEWAY_START_FAILED: {
    summary:
      'The MCP gateway could not start: a required upstream server did not start or answer initialize, servers listed colliding tool names (GW-03), or the endpoint could not listen.',
    exit: EXIT.wardenFailed,
  },
  CATALOG_INVALID: {
    summary:
      'The catalog file (warden.catalog.yaml) cannot be read or does not match its schema; the message names the file, line and field.',
    exit: EXIT.usage,
  },
  CATALOG_ADD_FAILED: {
    summary:
      'warden catalog add could not pin what was asked: the package or version is not on the registry, the downloaded tarball does not match the integrity the registry states, npm failed, or the local program is not a readable file.',
    exit: EXIT.wardenFailed,
  },
  PROVENANCE_MISMATCH: {
    summary:
      "An MCP server's pin does not verify (SCAN-06): the store's package, version, integrity or files, or a local program's sha256, differ from the catalog. The message names what differed (expected vs found); the server is not started.",
    exit: EXIT.integrity,
  },
  PROVENANCE_REFUSED: {
    summary:
      'An MCP server is refused for its provenance (SCAN-06): a catalog exists and the server is not pinned in it (and not listed in catalog.unpinned), or its package name looks like a typosquat of a trusted name.',
    exit: EXIT.usage,
  },
  TOKEN_INVALID: {
    summary:
      'warden token issue or revoke could not do what was asked (invalid agent name, scope or token id; a token of another installation; an unreadable revocation list).',
    exit: EXIT.usage,
  },
  CLIENT_CONFIG: {
    summary:
      "warden client add or rm cannot change an MCP client's config file: it is not valid for that client, holds a server of that name that is not warden's, changed meanwhile, or cannot be written. The file is left untouched.",
    exit: EXIT.usage,
  },
  SCAN_INPUT: {
    summary:
      'warden scan tools|text cannot read its input: the file is missing, larger than 64 MiB, not UTF-8, or a line or item is not a tool definition / text record; the message names the line or item.',
    exit: EXIT.usage,
  },
  PINS_UNUSABLE: {
    summary:
      "A server's tool pins (the approved definitions in <state>/pins, SCAN-05) cannot be read, parsed or written; the gateway does not start rather than show unpinned tools.",
    exit: EXIT.wardenFailed,
  },
  SECRET_INVALID: {
    summary:
      'A secret name, reference or value is not one warden accepts (name characters and length, value size, an unknown provider prefix).',
    exit: EXIT.usage,
  },
  SECRET_NOT_FOUND: {
    summary: 'A secret a command or a server needs is not in the store it names.',
    exit: EXIT.usage,
  },
  SECRET_KEY: {
    summary:
      "The secret store's key is missing, malformed, not private (0600), or not the key the store was encrypted with (SEC-03).",
    exit: EXIT.usage,
  },
  SECRET_STORE: {
    summary:
      'The encrypted secret store cannot be read, fails its integrity check, is not private (0600), or cannot be written.',
    exit: EXIT.wardenFailed,
  },
  SECRET_PROVIDER: {
    summary:
      'A remote secret provider (HashiCorp Vault / OpenBao KV v2) refused the request, answered something unexpected, or could not be reached.',
    exit: EXIT.wardenFailed,
  },
  INTERNAL: {
    summary: 'An unexpected internal failure; please report it with the audit run id.',
    exit: EXIT.wardenFailed,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * A local failure with a stable code. `message` is safe to show to the user: it never contains a
 * token or secret. `hint` says how to fix it. `cause` may carry detail for the audit log.
 */
export class WardenError extends Error {
  override readonly name = 'WardenError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options?.hint;
  }

  /** The exit code the CLI uses when this error ends the program. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

/** True when `value` is a WardenError (also across bundled module copies). */
export function isWardenError(value: unknown): value is WardenError {
  return value instanceof WardenError || (value instanceof Error && value.name === 'WardenError' && 'code' in value);
}
