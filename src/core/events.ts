/**
 * The one event schema. Everything that happens in a run is an event; components never log to
 * ad-hoc files, they emit events through an {@link EventSink}. The audit store assigns `seq`
 * (a global, gap-free, monotonic sequence) and chains each event to the previous one by hash.
 */
import type { LimitEnforcement } from './limits.js';

/** Who acted. Later issues add the token id and the delegation chain (`parents`). */
export interface AgentIdentity {
  /** Agent name: `--agent`, or the command's basename. */
  readonly name: string;
  /** The run this agent identity belongs to. */
  readonly run_id: string;
}

export type EgressProtocol = 'http' | 'connect' | 'socks5';

/** Why the egress proxy refused a connection. Stable strings: they are stored and queried. */
export type EgressDenyReason =
  | 'not_allowed' // host (or host:port) matches no allow rule
  | 'port_not_allowed' // the host matches a rule, but not on this port
  | 'blocked_address' // resolved (or literal) address is loopback/private/link-local/metadata and not allowed exactly
  | 'resolve_failed' // the proxy could not resolve the name
  | 'bad_request' // malformed target: userinfo in authority, origin-form request, unparsable host
  | 'host_mismatch' // Host header (HTTP) or TLS SNI (CONNECT) names another host than the target
  | 'auth_failed' // missing or wrong proxy credential
  | 'unsupported' // e.g. SOCKS5 BIND / UDP ASSOCIATE
  | 'audit_failed'; // the decision could not be recorded durably, so the connection was refused

export type LimitKind = 'memory' | 'pids' | 'cpu' | 'timeout';

/** How a run ended. */
export type EndReason = 'exited' | 'signaled' | 'timeout' | 'memory_limit' | 'warden_error' | 'interrupted';

/** What an MCP request was about. */
/** What an MCP record is about: the agent's tools, prompts, resources, or a request a server sent the agent (relayed). */
export type McpSubject = 'tool' | 'prompt' | 'resource' | 'sampling' | 'elicitation' | 'roots' | 'log';

/** How one MCP call ended. Stable strings: they are stored and queried. */
export type McpOutcome =
  | 'ok' // the upstream answered (a tool result with isError is still 'ok' with tool_error true)
  | 'denied' // policy refused it
  | 'invalid' // arguments failed the tool's inputSchema or a condition's type
  | 'unknown' // no such tool/prompt/resource (or hidden)
  | 'unavailable' // the upstream server is down or restarting
  | 'timeout' // the upstream did not answer within the call timeout
  | 'too_large' // the upstream's result exceeded the size cap
  | 'upstream_error' // the upstream answered with a JSON-RPC error or broke the protocol
  | 'cancelled' // the agent cancelled it or went away
  | 'withheld' // the server answered, but its answer carried instructions aimed at the model and was withheld (SCAN-07)
  | 'agent_error' // a request relayed to the agent (sampling, elicitation, roots): the agent answered with an error or could not answer
  | 'audit_failed'; // never forwarded: the decision could not be recorded

/** One scanner finding as the audit log keeps it (the explanation is in docs/scanning.md by rule). */
export interface ScanFindingRecord {
  readonly rule: string;
  readonly severity: 'low' | 'medium' | 'high';
  /** Where in the definition or answer: 'description', 'content[0].text', … */
  readonly path: string;
  /** The offending text, bounded, invisible characters escaped. */
  readonly span: string;
}

/** What warden did with an answer the output scanner found something in (policy: mcp.scan.outputs). */
export type OutputAction = 'passed' | 'annotated' | 'wrapped' | 'withheld';

/**
 * A definition's state when listed: `pinned` (seen for the first time and pinned), `approved`
 * (pinned by `warden tools approve`), `warned` (shown, with findings), `quarantined` (hidden:
 * findings the policy does not allow), `changed` (hidden: differs from its pin, SCAN-05), `new`
 * (hidden: appeared after the server's tools were pinned, or the policy wants every tool approved).
 */
export type DefinitionState = 'pinned' | 'approved' | 'warned' | 'quarantined' | 'changed' | 'new';

/** The post-run check of a sandbox's writable roots: entries walked, whether it finished, findings, time. */
export interface PostRunCheck {
  readonly entries: number;
  readonly complete: boolean;
  readonly findings: number;
  readonly elapsed_ms: number;
}

/** Who started a run: the local user, and the CI system when it runs in one (runtime/started-by.ts). */
export interface StartedBy {
  readonly uid: number;
  /** The login of `uid`, when it has a passwd entry. */
  readonly user: string | null;
  /** SUDO_USER, when warden runs under sudo as someone else. */
  readonly sudo_user?: string;
  readonly ci?: {
    /** github-actions, gitlab-ci, circleci, buildkite, jenkins, or ci (CI=true, system unknown). */
    readonly system: string;
    readonly run?: string;
    readonly repository?: string;
    readonly actor?: string;
  };
}

export interface EventPayloads {
  'run.started': {
    /** The command as run, or its head when it is longer than the audit record allows (see command_digest). */
    readonly command: readonly string[];
    /** Present when `command` was shortened: the whole command's size, arg count and SHA-256 (of its JSON). */
    readonly command_digest?: { readonly bytes: number; readonly args: number; readonly sha256: string };
    readonly profile: string;
    readonly workspace: string | null;
    readonly cwd: string;
    readonly network_allow: readonly string[];
    readonly limits: {
      readonly memory_bytes: number | null;
      readonly pids: number | null;
      readonly cpu: number | null;
      readonly timeout_ms: number | null;
      /**
       * How each of memory, pids and cpu is held for this sandbox: by a cgroup (v1/v2), an rlimit,
       * or not at all (with why). Absent in records of wardens that predate it.
       */
      readonly enforcement?: readonly LimitEnforcement[];
    };
    readonly warden_uid: number;
    /** Who started the run (absent in records of wardens that predate it). */
    readonly started_by?: StartedBy;
  };
  'run.ended': {
    readonly reason: EndReason;
    readonly exit_code: number;
    readonly signal: string | null;
    readonly duration_ms: number;
    readonly egress: { readonly allowed: number; readonly denied: number };
    readonly limits_hit: readonly LimitKind[];
    readonly error?: string;
  };
  'sandbox.created': {
    readonly backend: 'bwrap';
    readonly pid: number;
    readonly sandbox_uid: number;
    /** Creating the sandbox until its command runs, without `launch_wait_ms`. */
    readonly setup_ms: number;
    /** How long the ready sandbox waited for warden's own start-up (proxy listening, run.started durable). */
    readonly launch_wait_ms?: number;
    readonly seccomp: boolean;
    readonly cgroups: readonly string[];
  };
  'sandbox.destroyed': {
    readonly backend: 'bwrap';
    readonly leftover_processes: number;
    /** Records written before warden stopped creating placeholders for missing protected entries. */
    readonly placeholders_removed?: number;
    /** Records written before the post-run check covered more than git repositories. */
    readonly git_scan?: { readonly entries: number; readonly complete: boolean; readonly quarantined: number };
    /**
     * The post-run check of the sandbox's writable roots (SBX-06, SBX-20, SBX-21, SBX-22): entries
     * walked, whether it finished, how many findings (each also a `violation`), how long it took.
     */
    readonly post_run?: PostRunCheck;
  };
  'egress.allowed': {
    readonly protocol: EgressProtocol;
    readonly host: string;
    readonly port: number;
    readonly address: string;
    readonly rule: string;
    readonly method?: string;
  };
  'egress.denied': {
    readonly protocol: EgressProtocol;
    readonly host: string;
    readonly port: number;
    readonly reason: EgressDenyReason;
    readonly detail: string;
    readonly method?: string;
  };
  'limit.hit': {
    readonly limit: LimitKind;
    readonly detail: string;
  };
  'mcp.server': {
    readonly server: string;
    readonly state: 'started' | 'exited' | 'restarting' | 'failed' | 'stopped';
    readonly detail: string;
    readonly tools?: number;
    readonly rejected_tools?: readonly { readonly name: string; readonly reason: string }[];
    /** The newest part of the ended process's stderr (at most 16 Ki characters, secrets redacted, controls removed). */
    readonly stderr?: string;
    /** For a server that did not start: the config change or command that would fix it. */
    readonly hint?: string;
    /** For a server that did not start: whether the profile requires it (then the gateway did not start either). */
    readonly required?: boolean;
  };
  'mcp.listed': {
    readonly subject: McpSubject;
    readonly session: string;
    readonly shown: number;
    /** What was hidden and why (at most 256 entries; `hidden_total` counts all). */
    readonly hidden: readonly { readonly name: string; readonly reason: string }[];
    readonly hidden_total: number;
  };
  'mcp.call': {
    readonly subject: McpSubject;
    readonly session: string;
    /** The name the agent used (exposed name, or the resource URI). */
    readonly name: string;
    /** The MCP method, when it is not the subject's usual one (resources/subscribe, resources/unsubscribe). */
    readonly method?: string;
    readonly server: string | null;
    /** The upstream's own name for it. */
    readonly upstream_name: string | null;
    /** Arguments as forwarded; sensitive ones replaced by `hmac-sha256:<hex>` (AUD-05). */
    readonly arguments: Readonly<Record<string, unknown>> | null;
    readonly decision: 'allow' | 'deny';
    /** Ids of the policies that decided (the permits that allowed, or the forbids that denied). */
    readonly policy_ids: readonly string[];
    readonly reason: string;
    readonly outcome: McpOutcome;
    readonly tool_error: boolean;
    readonly upstream_ms: number | null;
    readonly result_bytes: number | null;
    readonly error?: string;
    /** What the output scanner found in the answer and what warden did with it (SCAN-07); absent when clean. */
    readonly scan?: {
      readonly action: OutputAction;
      readonly findings: readonly ScanFindingRecord[];
    };
  };
  /**
   * What a server's definitions (tools, prompts, resources, instructions) were found to be when
   * the gateway listed them: scanned and pinned (SCAN-01…05, 08). One record per definition whose
   * state is not plain `shown`, and per definition pinned for the first time.
   */
  'mcp.definition': {
    readonly server: string;
    readonly kind: 'tool' | 'prompt' | 'resource' | 'instructions';
    /** The server's own name for it (the tool name, the resource URI). */
    readonly name: string;
    readonly state: DefinitionState;
    /** The canonical hash of the whole definition (sha256 of its RFC 8785 JSON). */
    readonly hash: string;
    /** The hash approved before, when it changed (SCAN-05). */
    readonly pinned_hash?: string;
    readonly findings: readonly ScanFindingRecord[];
  };
  'mcp.rejected': {
    readonly session: string;
    /** The JSON-RPC error code the caller got. */
    readonly code: number;
    readonly reason: string;
  };
  /**
   * A sandbox whose warden died (SIGKILL, OOM, power loss) was cleaned up by a later warden start:
   * its cgroups and runtime directory removed and the post-run check its warden never ran done
   * (each finding also a `violation` of the same run). Written to the audit log of the start
   * that found it, under the dead run's id; the run has no `run.ended`.
   */
  'run.recovered': {
    /** The sandbox: the run's id for the agent's own, `<run>.<server>.<n>` for an MCP server's. */
    readonly sandbox: string;
    /** From the sandbox's creation until it was found dead (when the warden died is not known). */
    readonly ms_until_recovered: number;
    /** Absent when the sandbox's record held no baseline for the check. */
    readonly post_run?: PostRunCheck;
  };
  violation: {
    readonly kind:
      | 'proxy_auth'
      | 'domain_fronting'
      | 'placeholder_tampered'
      | 'git_planted'
      | 'host_exec_planted'
      | 'setuid'
      | 'special_file'
      | 'unreadable_dir'
      | 'other';
    readonly detail: string;
  };
}

export type EventType = keyof EventPayloads;

export const EVENT_TYPES: readonly EventType[] = [
  'run.started',
  'run.ended',
  'sandbox.created',
  'sandbox.destroyed',
  'egress.allowed',
  'egress.denied',
  'limit.hit',
  'mcp.server',
  'mcp.listed',
  'mcp.call',
  'mcp.definition',
  'mcp.rejected',
  'run.recovered',
  'violation',
];

/** An event as a component emits it (before the store assigns seq and hashes). */
export type AuditEventInput = {
  [T in EventType]: {
    readonly type: T;
    readonly run_id: string;
    readonly agent: AgentIdentity;
    /** ISO-8601 UTC with milliseconds; the sink fills it in when omitted. */
    readonly ts?: string;
    readonly data: EventPayloads[T];
  };
}[EventType];

/** An event as stored: numbered and chained. */
export type AuditRecord = AuditEventInput & {
  readonly seq: number;
  readonly ts: string;
  /** Hex SHA-256 of the previous record (64 zeros for the first). */
  readonly prev_hash: string;
  /** Hex SHA-256 over the canonical JSON (RFC 8785) of this record without `hash`. */
  readonly hash: string;
};

/**
 * Where components send events. `append` resolves only once the event is durable (fsynced);
 * a rejection means it was not recorded, and the caller must fail closed (AUD-03).
 */
export interface EventSink {
  append(event: AuditEventInput): Promise<AuditRecord>;
}
