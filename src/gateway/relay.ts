/**
 * Requests a server sends the agent (sampling, elicitation, roots), relayed by the gateway.
 *
 * Only what the profile lists under `mcp.relay` for that server is offered to it at all (the
 * gateway declares those client capabilities, see upstream.ts). Each relayed request goes to
 * the one agent session it belongs to: the session with a call in flight to that server, or the
 * only session there is. When that is ambiguous (several agents call the same server at once)
 * the request is refused rather than shown to the wrong agent. Every relayed request gets one
 * `mcp.call` record (subject sampling / elicitation / roots) before the server gets its answer.
 *
 * What a server asks is untrusted input for the agent's model and its user (a sampling prompt can
 * carry an injection); the record keeps its size and digest, and an elicitation's message.
 */
import { createHash } from 'node:crypto';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { EventPayloads } from '../core/events.js';
import { roundMs } from '../core/units.js';
import { RPC } from './errors.js';
import type { RelayFeature } from './upstream.js';

/** How the gateway reaches one agent session (its SDK server). */
export interface AgentPeer {
  /**
   * Sends `method` to the agent. `relatedRequestId` is the agent's own request the server is
   * working on, when there is one: over Streamable HTTP the request then travels on that
   * request's response stream, which every client reads (not all open the standalone one).
   */
  request(
    method: string,
    params: Record<string, unknown>,
    options: { readonly signal: AbortSignal; readonly timeoutMs: number; readonly relatedRequestId?: RequestId },
  ): Promise<Record<string, unknown>>;
  /** Sends a notification to the agent (on `relatedRequestId`'s stream when given). */
  notify(method: string, params: Record<string, unknown>, relatedRequestId?: RequestId): Promise<void>;
}

type RequestId = string | number;

export interface RelayOptions {
  readonly profileName: string;
  /** Server name → the features the profile relays for it. */
  readonly relay: Readonly<Record<string, readonly RelayFeature[]>>;
  readonly timeoutMs: number;
  /** Writes the request's final record; a rejection means it must not be answered (AUD-03). */
  readonly record: (data: EventPayloads['mcp.call']) => Promise<void>;
  /** Throws when the audit log has failed before (then nothing is relayed at all). */
  readonly refuseIfAuditBroken?: () => void;
  /**
   * Screens what a server relays before the agent sees it (SCAN-07): null when it may pass, else
   * the findings to record and whether it is withheld (by mcp.scan.outputs: `block` and `wrap`
   * withhold a relayed message, since a request cannot be quoted; `annotate` and `allow` pass it).
   */
  readonly screen?: (value: unknown) => {
    readonly withheld: boolean;
    readonly findings: NonNullable<EventPayloads['mcp.call']['scan']>['findings'];
  } | null;
}

const MAX_RECORDED_MESSAGE = 500;

export class ServerRequestRelay {
  readonly #options: RelayOptions;
  readonly #peers = new Map<string, { readonly peer: AgentPeer; readonly subject: string }>();
  /** server → session → the agent's request ids of the calls in flight (null: no id known). */
  readonly #inFlight = new Map<string, Map<string, (RequestId | null)[]>>();

  constructor(options: RelayOptions) {
    this.#options = options;
  }

  /** The features relayed for `server` (what the gateway offers it at initialize). */
  featuresFor(server: string): ReadonlySet<RelayFeature> {
    return new Set(Object.hasOwn(this.#options.relay, server) ? this.#options.relay[server] : []);
  }

  /** Makes a session (acting for `subject`) reachable for relayed requests; call the result when it closes. */
  attach(session: string, subject: string, peer: AgentPeer): () => void {
    const entry = { peer, subject };
    this.#peers.set(session, entry);
    return () => {
      if (this.#peers.get(session) === entry) this.#peers.delete(session);
    };
  }

  /** Runs one of `session`'s calls to `server` (the agent's request `requestId`), counted as in flight while it runs. */
  async track<T>(server: string, session: string, requestId: RequestId | null, work: () => Promise<T>): Promise<T> {
    const sessions = this.#inFlight.get(server) ?? new Map<string, (RequestId | null)[]>();
    this.#inFlight.set(server, sessions);
    const ids = sessions.get(session) ?? [];
    sessions.set(session, ids);
    ids.push(requestId);
    try {
      return await work();
    } finally {
      ids.splice(ids.indexOf(requestId), 1);
      if (ids.length === 0 && sessions.get(session) === ids) sessions.delete(session);
    }
  }

  /** Relays `request` from `server` to its agent; resolves with the agent's answer. */
  async relay(
    server: string,
    feature: RelayFeature,
    request: { readonly method: string; readonly params: Record<string, unknown> },
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const policyId = `${this.#options.profileName}.relay.${server}.${feature}`;
    const base = {
      subject: feature,
      name: request.method,
      server,
      upstream_name: null,
      arguments: summarise(feature, request.params),
      tool_error: false,
      upstream_ms: null,
      result_bytes: null,
    };
    if (!this.featuresFor(server).has(feature)) {
      const reason = `the profile does not relay ${feature} from server ${server} (profiles.${this.#options.profileName}.mcp.relay)`;
      await this.#options.record({
        ...base,
        session: '-',
        decision: 'deny',
        policy_ids: [],
        reason,
        outcome: 'denied',
      });
      throw new McpError(RPC.invalidRequest, reason);
    }
    const target = this.#sessionFor(server);
    if (target.session === null) {
      await this.#options.record({
        ...base,
        session: '-',
        decision: 'deny',
        policy_ids: [policyId],
        reason: target.reason,
        outcome: 'denied',
      });
      throw new McpError(RPC.invalidRequest, target.reason);
    }
    const peer = this.#peers.get(target.session)?.peer;
    // Nothing reaches the agent (or its user) while decisions cannot be recorded (AUD-03).
    this.#options.refuseIfAuditBroken?.();
    // roots/list carries nothing from the server; sampling and elicitation carry its text.
    const screened = feature === 'roots' ? null : (this.#options.screen?.(request.params) ?? null);
    if (screened?.withheld === true) {
      const reason = `warden withheld this ${feature} request: its text looks like instructions aimed at the model (${[...new Set(screened.findings.map((f) => f.rule))].slice(0, 4).join(', ')})`;
      await this.#options.record({
        ...base,
        session: target.session,
        decision: 'allow',
        policy_ids: [policyId],
        reason: 'relayed',
        outcome: 'withheld',
        scan: { action: 'withheld', findings: screened.findings },
      });
      throw new McpError(RPC.withheld, reason);
    }
    const scan = screened === null ? {} : { scan: { action: 'passed' as const, findings: screened.findings } };
    const started = performance.now();
    let result: Record<string, unknown>;
    try {
      if (peer === undefined) throw new McpError(RPC.connectionClosed, 'the agent session closed');
      const related = this.#latestCall(server, target.session);
      result = await peer.request(request.method, request.params, {
        signal,
        timeoutMs: this.#options.timeoutMs,
        ...(related === null ? {} : { relatedRequestId: related }),
      });
    } catch (error) {
      const timedOut = error instanceof McpError && error.code === RPC.timeout;
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 500);
      await this.#options.record({
        ...base,
        session: target.session,
        decision: 'allow',
        policy_ids: [policyId],
        reason: 'relayed',
        outcome: timedOut ? 'timeout' : 'agent_error',
        upstream_ms: roundMs(performance.now() - started),
        error: detail,
        ...scan,
      });
      // The agent's JSON-RPC error code goes back as it is; anything else as an internal error.
      const reason = `the agent did not answer ${request.method}: ${detail.replace(/^(MCP error -?\d+: )+/, '')}`;
      throw new McpError(error instanceof McpError ? error.code : RPC.internal, reason);
    }
    // The agent answered; the server gets the answer only once it is on record.
    await this.#options.record({
      ...base,
      session: target.session,
      decision: 'allow',
      policy_ids: [policyId],
      reason: 'relayed',
      outcome: 'ok',
      upstream_ms: roundMs(performance.now() - started),
      result_bytes: Buffer.byteLength(JSON.stringify(result)),
      ...scan,
    });
    return result;
  }

  /**
   * Passes a server's log message to the session it belongs to (the same choice as for requests;
   * dropped when that is ambiguous: one agent must not read another's logs). Returns whether it went.
   */
  notifyLog(server: string, params: Record<string, unknown>): boolean {
    const target = this.#sessionFor(server);
    if (target.session === null) return false;
    const screened = this.#options.screen?.(params) ?? null;
    if (screened !== null) {
      // On record either way; withheld ones never reach the agent (SCAN-07).
      void this.#options
        .record({
          subject: 'log',
          session: target.session,
          name: 'notifications/message',
          server,
          upstream_name: null,
          arguments: summarise('log', params),
          decision: 'allow',
          policy_ids: [],
          reason: 'relayed',
          outcome: screened.withheld ? 'withheld' : 'ok',
          tool_error: false,
          upstream_ms: null,
          result_bytes: null,
          scan: { action: screened.withheld ? 'withheld' : 'passed', findings: screened.findings },
        })
        .catch(() => undefined);
      if (screened.withheld) return false;
    }
    const related = this.#latestCall(server, target.session);
    void this.#peers
      .get(target.session)
      ?.peer.notify('notifications/message', params, related ?? undefined)
      .catch(() => undefined);
    return true;
  }

  /** Passes a resource update to the sessions that subscribed to it. */
  notifySubscribers(sessions: Iterable<string>, params: Record<string, unknown>): void {
    for (const session of sessions)
      void this.#peers
        .get(session)
        ?.peer.notify('notifications/resources/updated', params)
        .catch(() => undefined);
  }

  /** The agent's request id of the session's most recent call in flight to `server`, if any. */
  #latestCall(server: string, session: string): RequestId | null {
    return this.#inFlight.get(server)?.get(session)?.at(-1) ?? null;
  }

  #sessionFor(server: string): { session: string; reason: '' } | { session: null; reason: string } {
    // A server's messages carry nothing that ties them to a call (stdio): with sessions of more
    // than one agent connected, one could get another's (e.g. after its own call returned).
    const subjects = new Set([...this.#peers.values()].map((p) => p.subject));
    if (subjects.size > 1)
      return {
        session: null,
        reason: `sessions of ${subjects.size} different agents are connected; warden cannot tell which one this is for`,
      };
    const busy = [...(this.#inFlight.get(server)?.keys() ?? [])].filter((s) => this.#peers.has(s));
    const candidates = busy.length > 0 ? busy : [...this.#peers.keys()];
    if (candidates.length === 1 && candidates[0] !== undefined) return { session: candidates[0], reason: '' };
    if (candidates.length === 0) return { session: null, reason: 'no agent session is connected to answer it' };
    return {
      session: null,
      reason: `${candidates.length} agent sessions are using server ${server}; warden cannot tell which one this request is for`,
    };
  }
}

/**
 * What the audit log keeps of a relayed request or log message: its size and digest, an
 * elicitation's message, a log message's level.
 */
function summarise(feature: RelayFeature | 'log', params: Record<string, unknown>): Record<string, unknown> {
  const json = JSON.stringify(params);
  const message = params['message'];
  const level = params['level'];
  return {
    bytes: Buffer.byteLength(json),
    sha256: createHash('sha256').update(json).digest('hex'),
    ...(feature === 'elicitation' && typeof message === 'string'
      ? { message: message.slice(0, MAX_RECORDED_MESSAGE) }
      : {}),
    ...(feature === 'log' && typeof level === 'string' ? { level: level.slice(0, 16) } : {}),
  };
}
