/**
 * The gateway core: one per run (or per `warden gateway`). It owns the upstream servers, the
 * aggregated catalogue and the policy engine, and answers what agent sessions ask: every list is
 * filtered by policy (a tool not granted is absent, GW-01), every call is decided, checked and
 * forwarded, and exactly one final audit record is written per call before the agent gets an
 * answer (AUD-01).
 */
import type { ProgressCallback } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  CallToolResultSchema,
  CompleteResultSchema,
  EmptyResultSchema,
  GetPromptResultSchema,
  McpError,
  ReadResourceResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { realpathSync } from 'node:fs';
import type { AgentIdentity, EventPayloads, EventSink, McpOutcome, McpSubject } from '../core/events.js';
import { isWardenError, WardenError } from '../core/errors.js';
import { roundMs } from '../core/units.js';
import {
  comparablePath,
  explainCallDenial,
  type CallContext,
  type CompiledProfile,
  type Decision,
  type PolicyEngine,
  type PolicyResource,
} from '../policy/index.js';
import { prepareArguments, SchemaValidators, type PathOrigin } from './arguments.js';
import { conditionDirProblems, serverViewWarnings } from './condition-checks.js';
import { describeRefusal } from './refusal.js';
import { CallPathResolver } from './resolve-path.js';
import { planTool, type PlanResult } from './tool-plan.js';
import { buildCatalog, type Catalog, type CatalogEntry } from './catalog.js';
import { fromUpstream, GatewayRpcError, RPC, rpcError } from './errors.js';
import { OVERSIZED_RESULT_CODE } from './line-transport.js';
import type { ArgumentRedactor } from './redact.js';
import { ServerRequestRelay, type AgentPeer } from './relay.js';
import {
  Upstream,
  UpstreamStartError,
  UpstreamUnavailableError,
  type LaunchUpstream,
  type RelayFeature,
} from './upstream.js';

export interface GatewayOptions {
  readonly profileName: string;
  readonly agent: AgentIdentity;
  readonly workspace: string;
  readonly policy: PolicyEngine;
  readonly compiled: CompiledProfile;
  readonly launch: LaunchUpstream;
  readonly sink: EventSink;
  readonly redactor: ArgumentRedactor;
  readonly callTimeoutMs: number;
  /** Largest upstream message (and so result) accepted, in bytes. */
  readonly maxResultBytes: number;
  readonly startTimeoutMs?: number;
  /** Per server, instead of `startTimeoutMs` (servers.<name>.start_timeout). */
  readonly startTimeouts?: Readonly<Record<string, number>>;
  /** Server → requests it may send the agent (profiles.<name>.mcp.relay); default none. */
  readonly relay?: Readonly<Record<string, readonly RelayFeature[]>>;
  /**
   * Server → the host paths its sandbox can see (workspace, extra read-only and writable paths):
   * a server that sees more than its path conditions allow is warned about at start.
   */
  readonly serverViews?: Readonly<Record<string, readonly string[]>>;
  /** Where start-up warnings go (the CLI prints them); default: nowhere. */
  readonly warn?: (message: string) => void;
  /**
   * Servers without which the gateway does not start (profiles.<name>.mcp.required). Any other
   * server that fails to start is left out: its tools are absent, and `unavailable` says why.
   */
  readonly required?: ReadonlySet<string>;
}

/** A server left out because it did not start (see GatewayOptions.required). */
export interface UnavailableServer {
  readonly server: string;
  /** Why, in words a user can act on (its exit, its last stderr line, refused egress). */
  readonly reason: string;
  /** The config change or command that would fix it. */
  readonly hint: string;
  /** Whether its stderr was recorded (the process ran; `warden logs SERVER` shows it). */
  readonly logged: boolean;
}

/** What `warden tools ls` shows for one tool. */
export interface ToolGrant {
  readonly name: string;
  readonly server: string;
  readonly upstreamName: string;
  readonly granted: boolean;
  readonly policyIds: readonly string[];
  readonly reason: string;
  readonly description: string;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
  /** The agent's JSON-RPC id of this request (requests the server sends back travel with it). */
  readonly requestId?: string | number;
}

const MAX_HIDDEN_RECORDED = 256;

export class Gateway {
  readonly #options: GatewayOptions;
  readonly #upstreams = new Map<string, Upstream>();
  readonly #validators = new SchemaValidators();
  readonly #listeners = new Set<() => void>();
  #catalog: Catalog = buildCatalog([]);
  #auditBroken: Error | null = null;
  /** Per tool (server NUL upstream name): how its arguments are prepared, or why they cannot be checked. */
  readonly #plans = new Map<string, PlanResult>();
  /** The workspace's real path, when it is the workspace as given (path walks start there). */
  #trustedRoot: string | null = null;
  readonly #unavailable: UnavailableServer[] = [];

  readonly #relay: ServerRequestRelay;
  /** Resources sessions subscribed to, by subscriptionKey(server, uri). */
  readonly #subscriptions = new Map<
    string,
    { readonly server: string; readonly uri: string; readonly sessions: Set<string> }
  >();

  private constructor(options: GatewayOptions) {
    this.#options = options;
    this.#relay = new ServerRequestRelay({
      profileName: options.profileName,
      relay: options.relay ?? {},
      timeoutMs: options.callTimeoutMs,
      record: (data) => this.#finish(data),
      refuseIfAuditBroken: () => this.#refuseIfAuditBroken(),
    });
  }

  /** Makes an agent session reachable for requests its servers send it (see relay.ts); call the result when it closes. */
  attachSession(session: string, subject: string, peer: AgentPeer): () => void {
    return this.#relay.attach(session, subject, peer);
  }

  /** A session closed: its resource subscriptions end (servers are told when nobody watches any more). */
  forgetSession(session: string): void {
    for (const [key, watch] of this.#subscriptions) {
      if (!watch.sessions.delete(session) || watch.sessions.size > 0) continue;
      this.#subscriptions.delete(key);
      void this.#upstreams
        .get(watch.server)
        ?.request('resources/unsubscribe', { uri: watch.uri }, EmptyResultSchema, {
          timeoutMs: this.#options.callTimeoutMs,
        })
        .catch(() => undefined);
    }
  }

  /**
   * Starts every server the profile grants something of, in parallel, and builds the catalogue.
   * Fails (GATEWAY_START_FAILED) when a required server cannot start or names collide (GW-03); a
   * server that is not required and cannot start is left out (see `unavailable`).
   */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const gateway = new Gateway(options);
    try {
      gateway.#trustedRoot = trustedRoot(options.workspace);
      gateway.#checkConditionDirs();
      await Promise.all(options.compiled.servers.map((name) => gateway.#startUpstream(name)));
      gateway.#rebuild();
      const { collisions } = gateway.#catalog;
      if (collisions.length > 0) {
        throw new WardenError('GATEWAY_START_FAILED', `colliding names (GW-03): ${collisions.join('; ')}`, {
          hint: 'ask the server to rename them, or do not grant that server',
        });
      }
      gateway.#checkGrantedTools();
      for (const warning of serverViewWarnings(options.compiled.conditionalGrants, options.serverViews ?? {}))
        options.warn?.(warning);
    } catch (error) {
      await gateway.close();
      throw error;
    }
    return gateway;
  }

  /** Called when what some session may list changes (restart, upstream list_changed). */
  onListChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The servers left out because they did not start, and why. */
  get unavailable(): readonly UnavailableServer[] {
    return this.#unavailable;
  }

  async close(): Promise<void> {
    const stopped = await Promise.all(
      [...this.#upstreams.values()].map(async (u) => ({ server: u.name, stderr: await u.stop() })),
    );
    await Promise.all(
      stopped.map(({ server, stderr }) =>
        this.#record('mcp.server', {
          server,
          state: 'stopped',
          detail: 'gateway closed',
          ...(stderr === '' ? {} : { stderr }),
        }).catch(() => undefined),
      ),
    );
  }

  /** Every tool of every started server, with whether the profile grants it and why. */
  describeTools(): ToolGrant[] {
    const out: ToolGrant[] = [];
    for (const entry of this.#catalog.tools.values()) {
      const decision = this.#listDecision(entry);
      out.push({
        name: entry.exposed,
        server: entry.server,
        upstreamName: entry.upstreamName,
        granted: decision.allow,
        policyIds: decision.policyIds,
        reason: decision.reason,
        description: entry.item.description ?? '',
      });
    }
    for (const r of this.#catalog.rejected)
      out.push({
        name: r.name,
        server: r.server,
        upstreamName: r.name,
        granted: false,
        policyIds: [],
        reason: r.reason,
        description: '',
      });
    return out;
  }

  async listTools(session: string): Promise<Tool[]> {
    const shown: Tool[] = [];
    const hidden: { name: string; reason: string }[] = this.#catalog.rejected.map((r) => ({
      name: `${r.server}/${r.name}`,
      reason: r.reason,
    }));
    for (const entry of this.#catalog.tools.values()) {
      const decision = this.#listDecision(entry);
      if (decision.allow) shown.push({ ...entry.item, name: entry.exposed });
      else hidden.push({ name: entry.exposed, reason: decision.reason });
    }
    await this.#recordListing('tool', session, shown.length, hidden);
    return shown;
  }

  async callTool(
    session: string,
    name: string,
    rawArgs: Record<string, unknown> | undefined,
    options: CallOptions = {},
  ): Promise<CallToolResult> {
    const args = rawArgs ?? {};
    const entry = this.#catalog.tools.get(name);
    const base = {
      subject: 'tool' as const,
      session,
      name,
      server: entry?.server ?? null,
      upstream_name: entry?.upstreamName ?? null,
    };
    this.#refuseIfAuditBroken();
    const listed = entry === undefined ? null : this.#listDecision(entry);
    if (entry === undefined || listed === null || !listed.allow) {
      // Hidden and unknown look the same to the agent (GW-01); the log says which it was.
      const decision =
        entry === undefined
          ? { allow: false, policyIds: [], reason: 'no such tool' }
          : listed !== null && listed.reason.startsWith(NOT_CHECKABLE)
            ? listed
            : this.#decide('call_tool', entry, 'tool', { args: {}, hosts: {}, ports: {} });
      await this.#finish({
        ...base,
        arguments: this.#options.redactor.redact(args),
        decision: 'deny',
        policy_ids: decision.policyIds,
        reason: decision.reason,
        outcome: entry === undefined ? 'unknown' : 'denied',
      });
      throw rpcError(RPC.invalidParams, `Unknown tool: ${name.slice(0, 80)}`);
    }
    // GW-04: the upstream's inputSchema first, then the policy on normalised arguments.
    const validator = this.#validators.validatorFor(
      `${entry.server}\u0000${entry.upstreamName}`,
      entry.item.inputSchema,
    );
    const checked =
      typeof validator === 'string' ? { valid: false as const, errorMessage: validator } : validator(args);
    if (!checked.valid) {
      await this.#finish({
        ...base,
        arguments: this.#options.redactor.redact(args),
        decision: 'deny',
        policy_ids: [],
        reason: 'arguments do not match the inputSchema',
        outcome: 'invalid',
        error: checked.errorMessage.slice(0, 500),
      });
      throw rpcError(RPC.invalidParams, `Invalid arguments for tool ${name}: ${checked.errorMessage.slice(0, 300)}`);
    }
    const plan = this.#planFor(entry);
    // #listDecision hid every tool whose plan failed, so this holds; checked again all the same.
    if (!plan.ok) throw rpcError(RPC.invalidParams, `Unknown tool: ${name.slice(0, 80)}`);
    const prepared = prepareArguments(
      args,
      plan.plan,
      () => new CallPathResolver(this.#options.workspace, this.#trustedRoot),
    );
    if (!prepared.ok) {
      const outside = prepared.outside === true;
      await this.#finish({
        ...base,
        arguments: this.#options.redactor.redact(args),
        decision: 'deny',
        policy_ids: [],
        reason: prepared.reason,
        outcome: outside ? 'denied' : 'invalid',
      });
      if (outside) throw rpcError(RPC.denied, `Warden policy refused this call to ${name}: ${LEADS_OUTSIDE}`);
      throw rpcError(RPC.invalidParams, `Invalid arguments for tool ${name}: ${prepared.reason}`);
    }
    const { decision, denied } = this.#decideCall(entry, prepared.contexts);
    const recorded = this.#options.redactor.redact(prepared.forwarded);
    if (!decision.allow) {
      const refusal = this.#refusal(entry, decision, denied, plan.plan.pathConditions, prepared.paths);
      await this.#finish({
        ...base,
        arguments: recorded,
        decision: 'deny',
        policy_ids: decision.policyIds,
        reason: refusal.audit,
        outcome: 'denied',
      });
      throw rpcError(RPC.denied, `Warden policy refused this call to ${name}: ${refusal.agent}`);
    }
    const upstream = this.#upstreams.get(entry.server);
    const started = performance.now();
    let result: CallToolResult;
    try {
      if (upstream === undefined) throw new UpstreamUnavailableError(`server ${entry.server} is not running`);
      result = await this.#relay.track(entry.server, session, options.requestId ?? null, () =>
        upstream.request(
          'tools/call',
          { name: entry.upstreamName, arguments: prepared.forwarded },
          CallToolResultSchema,
          {
            timeoutMs: this.#options.callTimeoutMs,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
            ...(options.onProgress === undefined ? {} : { onprogress: options.onProgress }),
          },
        ),
      );
    } catch (error) {
      const failure = this.#classify(error, entry.server);
      await this.#finish({
        ...base,
        arguments: recorded,
        decision: 'allow',
        policy_ids: decision.policyIds,
        reason: decision.reason,
        outcome: failure.outcome,
        upstream_ms: roundMs(performance.now() - started),
        error: failure.detail,
      });
      throw failure.error;
    }
    const upstreamMs = roundMs(performance.now() - started);
    const bytes = Buffer.byteLength(JSON.stringify(result));
    await this.#finish({
      ...base,
      arguments: recorded,
      decision: 'allow',
      policy_ids: decision.policyIds,
      reason: decision.reason,
      outcome: 'ok',
      tool_error: result.isError === true,
      upstream_ms: upstreamMs,
      result_bytes: bytes,
    });
    return result;
  }

  async listPrompts(session: string): Promise<Prompt[]> {
    const shown: Prompt[] = [];
    const hidden: { name: string; reason: string }[] = [];
    for (const entry of this.#catalog.prompts.values()) {
      const decision = this.#decide('list_prompt', entry, 'prompt');
      if (decision.allow) shown.push({ ...entry.item, name: entry.exposed });
      else hidden.push({ name: entry.exposed, reason: decision.reason });
    }
    await this.#recordListing('prompt', session, shown.length, hidden);
    return shown;
  }

  async getPrompt(
    session: string,
    name: string,
    args: Record<string, string> | undefined,
    options: CallOptions = {},
  ): Promise<GetPromptResult> {
    const entry = this.#catalog.prompts.get(name);
    return this.#forwardSimple(
      session,
      options.requestId ?? null,
      'prompt',
      name,
      entry,
      'get_prompt',
      args ?? {},
      (upstream) =>
        upstream.request(
          'prompts/get',
          { name: entry?.upstreamName ?? name, ...(args === undefined ? {} : { arguments: args }) },
          GetPromptResultSchema,
          this.#requestOptions(options),
        ),
    );
  }

  async listResources(session: string): Promise<Resource[]> {
    const shown: Resource[] = [];
    const hidden: { name: string; reason: string }[] = [];
    for (const entry of this.#catalog.resources.values()) {
      const decision = this.#decide('list_resource', entry, 'resource');
      if (decision.allow) shown.push(entry.item);
      else hidden.push({ name: entry.exposed, reason: decision.reason });
    }
    await this.#recordListing('resource', session, shown.length, hidden);
    return shown;
  }

  /**
   * `logging/setLevel`: passed to every server that logs (the level applies to what each server
   * sends; servers are shared by the gateway's sessions, so the last level set wins).
   */
  async setLogLevel(level: string): Promise<void> {
    this.#refuseIfAuditBroken();
    const logging = [...this.#upstreams.values()].filter((u) => u.capabilities.logging !== undefined);
    await Promise.all(
      logging.map((u) =>
        u
          .request('logging/setLevel', { level }, EmptyResultSchema, { timeoutMs: this.#options.callTimeoutMs })
          .catch(() => undefined),
      ),
    );
  }

  /**
   * `resources/subscribe`: decided like reading the resource (a resource the agent may not read
   * cannot be watched either), forwarded to its server, and on record. Updates the server sends
   * for it then reach the sessions that subscribed.
   */
  async subscribe(session: string, uri: string, options: CallOptions = {}): Promise<void> {
    const entry = this.#resourceOwner(uri);
    await this.#forwardSimple(
      session,
      options.requestId ?? null,
      'resource',
      uri,
      entry,
      'read_resource',
      { uri },
      (upstream) => upstream.request('resources/subscribe', { uri }, EmptyResultSchema, this.#requestOptions(options)),
      'resources/subscribe',
    );
    if (entry !== undefined) {
      const key = subscriptionKey(entry.server, uri);
      const watch = this.#subscriptions.get(key) ?? { server: entry.server, uri, sessions: new Set<string>() };
      watch.sessions.add(session);
      this.#subscriptions.set(key, watch);
    }
  }

  /** `resources/unsubscribe`: the session stops getting updates; the server is told when nobody watches any more. */
  async unsubscribe(session: string, uri: string, options: CallOptions = {}): Promise<void> {
    const entry = this.#resourceOwner(uri);
    const key = entry === undefined ? null : subscriptionKey(entry.server, uri);
    const sessions = key === null ? undefined : this.#subscriptions.get(key)?.sessions;
    sessions?.delete(session);
    if (key !== null && sessions?.size === 0) this.#subscriptions.delete(key);
    await this.#forwardSimple(
      session,
      options.requestId ?? null,
      'resource',
      uri,
      entry,
      'read_resource',
      { uri },
      async (upstream) => {
        if (sessions !== undefined && sessions.size > 0) return {};
        return upstream.request('resources/unsubscribe', { uri }, EmptyResultSchema, this.#requestOptions(options));
      },
      'resources/unsubscribe',
    );
  }

  #subscribers(server: string, uri: unknown): Set<string> {
    return (
      (typeof uri === 'string' ? this.#subscriptions.get(subscriptionKey(server, uri))?.sessions : undefined) ??
      new Set<string>()
    );
  }

  /**
   * `completion/complete`: suggestions for a granted prompt's argument (decided like getting the
   * prompt), from the server that owns it, on record. Resource templates get none.
   */
  async complete(
    session: string,
    params: {
      readonly ref: { readonly type: string; readonly name?: string; readonly uri?: string };
      readonly [key: string]: unknown;
    },
    options: CallOptions = {},
  ): Promise<CompleteResult> {
    const send = (upstream: Upstream, ref: Record<string, unknown>) =>
      upstream.request('completion/complete', { ...params, ref }, CompleteResultSchema, this.#requestOptions(options));
    if (params.ref.type === 'ref/prompt') {
      const name = params.ref.name ?? '';
      const entry = this.#catalog.prompts.get(name);
      return this.#forwardSimple(
        session,
        options.requestId ?? null,
        'prompt',
        name,
        entry,
        'get_prompt',
        {},
        (upstream) => send(upstream, { type: 'ref/prompt', name: entry?.upstreamName ?? name }),
        'completion/complete',
      );
    }
    // A template's completions name resources the profile may not grant (a deny on some of the
    // URIs it spans cannot be decided on the template): not offered.
    const template = (params.ref.uri ?? '').slice(0, 2048);
    this.#refuseIfAuditBroken();
    await this.#finish({
      subject: 'resource',
      session,
      name: template,
      method: 'completion/complete',
      server: null,
      upstream_name: null,
      arguments: null,
      decision: 'deny',
      policy_ids: [],
      reason: 'completion of resource templates is not offered',
      outcome: 'denied',
    });
    throw rpcError(RPC.invalidParams, 'warden does not offer completion for resource templates');
  }

  /** Templates of servers the profile grants some resource of (a template reveals no content). */
  listResourceTemplates(): ResourceTemplate[] {
    const granting = new Set(this.#options.compiled.servers);
    return this.#catalog.resourceTemplates.filter((t) => granting.has(t.server)).map((t) => t.item);
  }

  async readResource(session: string, uri: string, options: CallOptions = {}): Promise<ReadResourceResult> {
    const entry = this.#resourceOwner(uri);
    return this.#forwardSimple(
      session,
      options.requestId ?? null,
      'resource',
      uri,
      entry,
      'read_resource',
      { uri },
      (upstream) =>
        upstream.request('resources/read', { uri }, ReadResourceResultSchema, this.#requestOptions(options)),
    );
  }

  // ------------------------------------------------------------------ internals

  async #forwardSimple<T extends object>(
    session: string,
    requestId: string | number | null,
    subject: 'prompt' | 'resource',
    name: string,
    entry: CatalogEntry<unknown> | undefined,
    action: 'get_prompt' | 'read_resource',
    args: Record<string, unknown>,
    send: (upstream: Upstream) => Promise<T>,
    method?: string,
  ): Promise<T> {
    this.#refuseIfAuditBroken();
    const base = {
      subject,
      session,
      name,
      ...(method === undefined ? {} : { method }),
      server: entry?.server ?? null,
      upstream_name: entry?.upstreamName ?? null,
      arguments: this.#options.redactor.redact(args),
    };
    const decision: Decision =
      entry === undefined
        ? { allow: false, policyIds: [], reason: `no such ${subject}` }
        : this.#decide(action, entry, subject);
    if (!decision.allow || entry === undefined) {
      await this.#finish({
        ...base,
        decision: 'deny',
        policy_ids: decision.policyIds,
        reason: decision.reason,
        outcome: entry === undefined ? 'unknown' : 'denied',
      });
      throw rpcError(
        RPC.invalidParams,
        subject === 'prompt' ? `Unknown prompt: ${name.slice(0, 80)}` : `Resource not found: ${name.slice(0, 200)}`,
      );
    }
    const upstream = this.#upstreams.get(entry.server);
    const started = performance.now();
    try {
      if (upstream === undefined) throw new UpstreamUnavailableError(`server ${entry.server} is not running`);
      const result = await this.#relay.track(entry.server, session, requestId, () => send(upstream));
      await this.#finish({
        ...base,
        decision: 'allow',
        policy_ids: decision.policyIds,
        reason: decision.reason,
        outcome: 'ok',
        upstream_ms: roundMs(performance.now() - started),
        result_bytes: Buffer.byteLength(JSON.stringify(result)),
      });
      return result;
    } catch (error) {
      if (error instanceof GatewayRpcError && error.code === RPC.auditUnavailable) throw error;
      const failure = this.#classify(error, entry.server);
      await this.#finish({
        ...base,
        decision: 'allow',
        policy_ids: decision.policyIds,
        reason: decision.reason,
        outcome: failure.outcome,
        upstream_ms: roundMs(performance.now() - started),
        error: failure.detail,
      });
      throw failure.error;
    }
  }

  #requestOptions(options: CallOptions): { timeoutMs: number; signal?: AbortSignal } {
    return {
      timeoutMs: this.#options.callTimeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
  }

  /** The owner of a resource URI: a listed resource, else a server whose template matches. */
  #resourceOwner(uri: string): CatalogEntry<unknown> | undefined {
    const listed = this.#catalog.resources.get(uri);
    if (listed !== undefined) return listed;
    const owners = new Set(
      this.#catalog.resourceTemplates.filter((t) => templateMatches(t.item.uriTemplate, uri)).map((t) => t.server),
    );
    if (owners.size !== 1) return undefined;
    const [server] = owners;
    return server === undefined ? undefined : { exposed: uri, server, upstreamName: uri, item: null };
  }

  /**
   * Whether a tool is listed: the policy's list_tool, and arguments the grants that name it can be
   * checked on (GW-12); a tool they cannot be checked on is hidden with the reason.
   */
  #listDecision(entry: CatalogEntry<Tool>): Decision {
    const decision = this.#decide('list_tool', entry, 'tool');
    if (!decision.allow) return decision;
    const plan = this.#planFor(entry);
    if (plan.ok) return decision;
    return { allow: false, policyIds: [plan.grant], reason: `${NOT_CHECKABLE}: ${plan.reason}` };
  }

  #planFor(entry: CatalogEntry<Tool>): PlanResult {
    const key = `${entry.server}\u0000${entry.upstreamName}`;
    let plan = this.#plans.get(key);
    if (plan === undefined) {
      plan = planTool(
        this.#options.compiled.conditionalGrants,
        entry.server,
        entry.upstreamName,
        entry.item.inputSchema,
      );
      this.#plans.set(key, plan);
    }
    return plan;
  }

  /**
   * A call with several paths is decided once per combination (see arguments.ts): allowed only
   * when every one is, with every permit that allowed one; else the first refusal and the context
   * it refused.
   */
  #decideCall(
    entry: CatalogEntry<Tool>,
    contexts: readonly CallContext[],
  ): { decision: Decision; denied: CallContext | null } {
    const permits = new Set<string>();
    for (const context of contexts) {
      const decision = this.#decide('call_tool', entry, 'tool', context);
      if (!decision.allow) return { decision, denied: context };
      for (const id of decision.policyIds) permits.add(id);
    }
    return { decision: { allow: true, policyIds: [...permits].sort(), reason: 'granted' }, denied: null };
  }

  /**
   * What a refused call's audit record and the agent are told: the argument, value, condition and
   * warden.yaml entry that refused it (refusal.ts), worked out only now that it is refused. When a
   * path decided on lies outside the workspace the agent is told no more than LEADS_OUTSIDE
   * (see resolve-path.ts); the audit record says everything.
   */
  #refusal(
    entry: CatalogEntry<Tool>,
    decision: Decision,
    denied: CallContext | null,
    pathKeys: readonly string[],
    paths: readonly PathOrigin[],
  ): { audit: string; agent: string } {
    const context = denied ?? { args: {}, hosts: {}, ports: {} };
    const decided = pathKeys.filter((key) => Object.hasOwn(context.args, key));
    const outside = decided.some((key) => !this.#inWorkspace(context.args[key] ?? ''));
    const explanation = explainCallDenial(
      this.#options.compiled.toolGrants,
      entry.server,
      entry.upstreamName,
      context,
      decision,
    );
    const options = {
      tool: entry.upstreamName,
      paths,
      workspace: this.#options.workspace,
      sensitive: (argument: string) => this.#options.redactor.isSensitive(argument),
    };
    const about = decided.map((key) => `${key} = ${context.args[key]}`).join(', ');
    const fallback = about === '' ? decision.reason : `${decision.reason} (${about.slice(0, 500)})`;
    const audit = describeRefusal(explanation, { ...options, shows: () => true }) ?? fallback;
    if (outside) return { audit, agent: LEADS_OUTSIDE };
    const agent = describeRefusal(explanation, {
      ...options,
      shows: (path) => this.#inWorkspace(comparablePath(path)),
    });
    return { audit, agent: agent ?? fallback };
  }

  /** Whether a comparable (NFC) resolved path lies in the workspace. */
  #inWorkspace(path: string): boolean {
    const workspace = comparablePath(this.#options.workspace);
    return path === workspace || path.startsWith(`${workspace}/`);
  }

  /** Condition directories must be real paths (conditions compare real paths): refused at start otherwise. */
  #checkConditionDirs(): void {
    const problems = conditionDirProblems(
      this.#options.compiled.conditionalGrants,
      new CallPathResolver(this.#options.workspace, this.#trustedRoot),
    );
    if (problems.length > 0)
      throw new WardenError(
        'POLICY_UNCHECKABLE',
        `path conditions that cannot be checked:\n  ${problems.slice(0, 10).join('\n  ')}`,
        {
          hint: 'write each condition directory as its real path (symlinks resolved), or remove the symlink (docs/config.md, "Path conditions")',
        },
      );
  }

  /** Every granted tool must be checkable by the grants that name it (GW-12); the start is refused otherwise. */
  #checkGrantedTools(): void {
    const problems: string[] = [];
    const fixes = new Set<string>();
    for (const entry of this.#catalog.tools.values()) {
      if (!this.#decide('list_tool', entry, 'tool').allow) continue;
      const plan = this.#planFor(entry);
      if (plan.ok) continue;
      problems.push(`${plan.grant} (server '${entry.server}'): ${plan.reason}`);
      fixes.add(plan.fix);
    }
    if (problems.length > 0)
      throw new WardenError(
        'POLICY_UNCHECKABLE',
        `argument conditions that cannot be checked on a granted tool (GW-12):\n  ${problems.slice(0, 10).join('\n  ')}${problems.length > 10 ? `\n  … and ${problems.length - 10} more` : ''}`,
        { hint: [...fixes].slice(0, 3).join('; or ') },
      );
  }

  #decide(
    action: Parameters<PolicyEngine['decide']>[0],
    entry: CatalogEntry<unknown>,
    kind: PolicyResource['kind'],
    context?: Parameters<PolicyEngine['decide']>[2],
  ): Decision {
    return this.#options.policy.decide(action, { kind, server: entry.server, name: entry.upstreamName }, context);
  }

  #classify(error: unknown, server: string): { outcome: McpOutcome; detail: string; error: GatewayRpcError } {
    if (error instanceof UpstreamUnavailableError)
      return { outcome: 'unavailable', detail: error.message, error: rpcError(RPC.unavailable, error.message) };
    if (error instanceof McpError) {
      const code: number = error.code;
      if (code === RPC.timeout)
        return {
          outcome: 'timeout',
          detail: error.message,
          error: rpcError(RPC.timeout, `server ${server} did not answer within ${this.#options.callTimeoutMs} ms`),
        };
      if (code === OVERSIZED_RESULT_CODE)
        return {
          outcome: 'too_large',
          detail: error.message,
          error: rpcError(
            RPC.tooLarge,
            `the result from server ${server} is larger than ${this.#options.maxResultBytes} bytes`,
          ),
        };
      if (code === RPC.connectionClosed)
        return {
          outcome: 'unavailable',
          detail: error.message,
          error: rpcError(RPC.unavailable, `server ${server} went away during the call; it is being restarted`),
        };
      // The upstream's own JSON-RPC error (e.g. invalid params): pass it on.
      return { outcome: 'upstream_error', detail: error.message.slice(0, 500), error: fromUpstream(error) };
    }
    if (error instanceof Error && error.name === 'AbortError')
      return { outcome: 'cancelled', detail: 'cancelled by the agent', error: rpcError(RPC.internal, 'cancelled') };
    const detail = error instanceof Error ? error.message : String(error);
    return {
      outcome: 'upstream_error',
      detail: detail.slice(0, 500),
      error: rpcError(RPC.internal, `server ${server} failed: ${detail.slice(0, 200)}`),
    };
  }

  async #finish(
    data: Omit<EventPayloads['mcp.call'], 'tool_error' | 'upstream_ms' | 'result_bytes'> &
      Partial<Pick<EventPayloads['mcp.call'], 'tool_error' | 'upstream_ms' | 'result_bytes'>>,
  ): Promise<void> {
    try {
      await this.#record('mcp.call', { tool_error: false, upstream_ms: null, result_bytes: null, ...data });
    } catch (error) {
      // Unrecorded means unanswered, and nothing more is forwarded (AUD-03).
      this.#auditBroken = error as Error;
      throw rpcError(
        RPC.auditUnavailable,
        'the audit log cannot record this call, so warden withholds it; see `warden doctor`',
      );
    }
  }

  #refuseIfAuditBroken(): void {
    if (this.#auditBroken !== null)
      throw rpcError(
        RPC.auditUnavailable,
        'the audit log is unavailable, so warden refuses calls; see `warden doctor`',
      );
  }

  async #recordListing(
    subject: McpSubject,
    session: string,
    shown: number,
    hidden: { name: string; reason: string }[],
  ): Promise<void> {
    this.#refuseIfAuditBroken();
    try {
      await this.#record('mcp.listed', {
        subject,
        session,
        shown,
        hidden: hidden.slice(0, MAX_HIDDEN_RECORDED),
        hidden_total: hidden.length,
      });
    } catch (error) {
      this.#auditBroken = error as Error;
      throw rpcError(RPC.auditUnavailable, 'the audit log cannot record this listing; see `warden doctor`');
    }
  }

  #record<T extends 'mcp.call' | 'mcp.listed' | 'mcp.server'>(type: T, data: EventPayloads[T]): Promise<unknown> {
    return this.#options.sink.append({
      type,
      run_id: this.#options.agent.run_id,
      agent: this.#options.agent,
      data,
    } as never);
  }

  async #startUpstream(name: string): Promise<void> {
    const upstream = new Upstream(
      name,
      this.#options.launch,
      {
        onState: (state, detail, extra) => {
          void this.#record('mcp.server', {
            server: name,
            state,
            detail: detail.slice(0, 1000),
            ...(state === 'started' ? { tools: upstream.tools.length } : {}),
            ...(extra?.stderr === undefined ? {} : { stderr: extra.stderr }),
          }).catch(() => undefined);
        },
        onListsChanged: () => {
          this.#validators.clear();
          this.#rebuild();
          for (const listener of this.#listeners) listener();
        },
        onServerRequest: (feature, request, signal) => this.#relay.relay(name, feature, request, signal),
        onNotification: (method, params) => {
          if (method === 'notifications/message') this.#relay.notifyLog(name, params);
          else this.#relay.notifySubscribers(this.#subscribers(name, params['uri']), params);
        },
      },
      {
        maxMessageBytes: this.#options.maxResultBytes,
        startTimeoutMs:
          (Object.hasOwn(this.#options.startTimeouts ?? {}, name) ? this.#options.startTimeouts?.[name] : undefined) ??
          this.#options.startTimeoutMs ??
          30_000,
        relay: this.#relay.featuresFor(name),
      },
    );
    this.#upstreams.set(name, upstream);
    try {
      await upstream.start();
    } catch (error) {
      const detail = (error as Error).message;
      const required = this.#options.required?.has(name) === true;
      const hint = startHint(name, error);
      const stderr = error instanceof UpstreamStartError ? (error.diagnosis?.stderr ?? '') : '';
      await this.#record('mcp.server', {
        server: name,
        state: 'failed',
        detail: `did not start: ${detail}`.slice(0, 1000),
        hint: hint.slice(0, 1000),
        required,
        ...(stderr === '' ? {} : { stderr }),
      }).catch(() => undefined);
      if (required) {
        throw new WardenError('GATEWAY_START_FAILED', `MCP server '${name}' did not start: ${detail}`, {
          hint,
          cause: error,
        });
      }
      // Not required: the gateway goes on without it (its tools are absent; the caller warns).
      this.#upstreams.delete(name);
      this.#unavailable.push({ server: name, reason: detail, hint, logged: stderr !== '' });
    }
  }

  #rebuild(): void {
    this.#plans.clear();
    const offers = [...this.#upstreams.values()].map((u) => ({
      server: u.name,
      tools: u.tools,
      prompts: u.prompts,
      resources: u.resources,
      resourceTemplates: u.resourceTemplates,
    }));
    this.#catalog = buildCatalog(offers);
  }
}

/**
 * What the agent is told when a path of its call leads outside the workspace and the call is
 * refused, whatever the reason (not there, a dangling link, the policy): warden looks at host
 * files with its own rights and must not become a way to learn what exists there.
 */
const LEADS_OUTSIDE = 'a path in this call leads outside the workspace, to a place no grant allows';

/** How a hidden tool's reason starts when its grants cannot be checked on it. */
const NOT_CHECKABLE = 'argument conditions cannot be checked';

/** The workspace's real path when it is the workspace as given (else walks start from '/'). */
function trustedRoot(workspace: string): string | null {
  try {
    return realpathSync(workspace) === workspace ? workspace : null;
  } catch {
    return null;
  }
}

/** RFC 6570 level-1 matching: `{var}` matches one or more characters other than '/'. */
function templateMatches(template: string, uri: string): boolean {
  if (template.length > 2048 || uri.length > 8192) return false;
  const pattern = template
    .split(/\{[^}]*\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${pattern}$`).test(uri);
}

function subscriptionKey(server: string, uri: string): string {
  return `${server}\u0000${uri}`;
}

/**
 * The fix for a server that did not start: what the process's diagnosis names (e.g. the server's
 * own network.allow for refused egress), else the hint of warden's own error (e.g. missing
 * limits), else where to look.
 */
function startHint(name: string, error: unknown): string {
  const problems = error instanceof UpstreamStartError ? (error.diagnosis?.problems ?? []) : [];
  if (problems.length > 0) return [...new Set(problems.map((p) => p.hint))].join('; ');
  if (isWardenError(error) && error.hint !== undefined) return error.hint;
  return `see its stderr with \`warden logs ${name}\`; check servers.${name} in warden.yaml (command, args, env, network.allow, and what its sandbox can see; for a url server the URL)`;
}
