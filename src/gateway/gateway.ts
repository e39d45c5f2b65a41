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
import { buildCatalog, NAME_SEPARATOR, type Catalog, type CatalogEntry, type Naming } from './catalog.js';
import { fromUpstream, GatewayRpcError, RPC, rpcError } from './errors.js';
import { OVERSIZED_RESULT_CODE } from './line-transport.js';
import type { ArgumentRedactor } from './redact.js';
import { ServerRequestRelay, type AgentPeer } from './relay.js';
import { DefinitionScreen, type ServerDefinitions, type Verdict } from './definitions.js';
import { definitionHash, pinsOf, type PinKind, type PinStore } from './pins.js';
import { DEFAULT_SCAN_POLICY, findingRecords, type GatewayScanner, type ScanPolicy } from './scanning.js';
import { screenAnswer, screenRelayed, withheldText } from './screen-output.js';
import {
  newCall,
  runPipeline,
  toolErrorResult,
  type PipelineCall,
  type Stage,
  type Stop,
  type StopRecord,
} from './pipeline.js';
import {
  Upstream,
  UpstreamStartError,
  UpstreamUnavailableError,
  type LaunchUpstream,
  type ListKey,
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
  /** Scans definitions and answers (src/scan's Scanner); absent: nothing is scanned. */
  readonly scanner?: GatewayScanner;
  /** Where tool definitions are pinned (SCAN-05); absent: nothing is pinned. */
  readonly pins?: PinStore;
  /** What findings and pins do (profiles.<name>.mcp.scan); default DEFAULT_SCAN_POLICY. */
  readonly scanPolicy?: ScanPolicy;
  /** How tools and prompts are named for the agent (profiles.<name>.mcp.names); default 'prefixed'. */
  readonly names?: Naming;
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

/**
 * One offered definition (tool, prompt, resource or resource template), for review: as offered
 * now and what the gateway made of it.
 */
export interface DefinitionReview {
  readonly server: string;
  /** A template is a `resource` named by its URI template. */
  readonly kind: PinKind;
  /** The server's own name for it: tool or prompt name, resource URI, URI template. */
  readonly name: string;
  readonly definition: Tool | Prompt | Resource | ResourceTemplate;
  /** Null when the server offered it after the last judgement (not yet judged). */
  readonly verdict: Verdict | null;
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
  /** What scanning and pinning made of it (shown, warned, quarantined, changed, new, pinned). */
  readonly state: string;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
  /** The agent's JSON-RPC id of this request (requests the server sends back travel with it). */
  readonly requestId?: string | number;
}

const MAX_HIDDEN_RECORDED = 256;
/** Shortest time between two re-reads of a server's lists on an agent's tools/list. */
const RELIST_INTERVAL_MS = 1000;

/** The `_meta` key a list answer holds several servers' list `_meta` under (see Gateway.listMeta). */
export const SERVERS_META_KEY = 'dev.warden/servers';

/** Warden's own line in a session's instructions. */
const INSTRUCTIONS = (naming: Naming): string =>
  `Warden MCP gateway: tools, prompts and resources granted to this task by its profile. ${naming === 'upstream' ? "Tool names are the servers' own." : 'Tool names are server__tool.'} Every call is decided by policy and audited.`;
/** Characters of one server's instructions passed on. */
const MAX_SERVER_INSTRUCTIONS = 8192;

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
  readonly #definitions: DefinitionScreen;
  /** Set while start() runs: a server whose pins are unusable then stops the start (fail closed). */
  #starting = true;
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
      ...(options.scanner === undefined ? {} : { screen: (value) => this.#screenRelayed(value) }),
    });
    this.#definitions = new DefinitionScreen({
      ...(options.scanner === undefined ? {} : { scanner: options.scanner }),
      ...(options.pins === undefined ? {} : { pins: options.pins }),
      policy: options.scanPolicy ?? DEFAULT_SCAN_POLICY,
      record: (data) => void this.#record('mcp.definition', data).catch(() => undefined),
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
          hint:
            options.names === 'upstream'
              ? `set profiles.${options.profileName}.mcp.names to prefixed (names become server__tool), or grant only one of those servers`
              : 'ask the server to rename them, or do not grant that server',
        });
      }
      gateway.#checkGrantedTools();
      for (const warning of serverViewWarnings(options.compiled.conditionalGrants, options.serverViews ?? {}))
        options.warn?.(warning);
      gateway.#starting = false;
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

  /**
   * The `instructions` a session's initialize answer carries: warden's own line, then each started
   * server's instructions that scanned clean (SCAN-02: instructions with findings are left out, on
   * record as an mcp.definition event), each under its server's name, bounded.
   */
  instructions(): string {
    const naming = this.#options.names ?? 'prefixed';
    const parts = [INSTRUCTIONS(naming)];
    for (const upstream of this.#upstreams.values()) {
      const text = this.#definitions.instructions(upstream.name);
      if (text !== null)
        parts.push(
          `Instructions from MCP server '${upstream.name}' (${naming === 'upstream' ? 'its tools keep their own names' : `its tools are named ${upstream.name}${NAME_SEPARATOR}<tool>`}):\n${text.slice(0, MAX_SERVER_INSTRUCTIONS)}`,
        );
    }
    return parts.join('\n\n');
  }

  /**
   * Every started server's tools, prompts, resources and templates as offered now, with their
   * verdicts and pins (for `warden tools diff` and `warden tools approve`), whether or not the
   * profile grants them.
   */
  reviewDefinitions(): DefinitionReview[] {
    const out: DefinitionReview[] = [];
    for (const upstream of this.#upstreams.values()) {
      const add = (kind: PinKind, name: string, definition: DefinitionReview['definition']) =>
        out.push({
          server: upstream.name,
          kind,
          name,
          definition,
          verdict: this.#definitions.verdict(upstream.name, kind, name) ?? null,
        });
      for (const tool of upstream.tools) add('tool', tool.name, tool);
      for (const prompt of upstream.prompts) add('prompt', prompt.name, prompt);
      for (const resource of upstream.resources) add('resource', resource.uri, resource);
      for (const template of upstream.resourceTemplates) add('resource', template.uriTemplate, template);
    }
    return out;
  }

  /** What each started server offers, as it sent it (for `warden scan`). */
  offers(): { readonly server: string; readonly definitions: ServerDefinitions }[] {
    return [...this.#upstreams.values()].map((u) => ({
      server: u.name,
      definitions: {
        tools: u.tools,
        prompts: u.prompts,
        resources: u.resources,
        resourceTemplates: u.resourceTemplates,
        instructions: u.instructions,
      },
    }));
  }

  /** The names of a server's pinned definitions of one kind. */
  pinnedNames(server: string, kind: PinKind): string[] {
    const pins = this.#options.pins;
    return Object.keys(pinsOf(pins === undefined ? null : pins.read(server), kind) ?? {});
  }

  /**
   * Pins the given definitions of a server as reviewed by `by` (SCAN-05): each is shown again
   * (the scanner's findings no longer hide it) until it changes; `drop` forgets pins of ones the
   * server no longer offers. Each approval is recorded.
   */
  async approveDefinitions(
    server: string,
    items: readonly Pick<DefinitionReview, 'kind' | 'name' | 'definition' | 'verdict'>[],
    by: string,
    drop: readonly { readonly kind: PinKind; readonly name: string }[],
  ): Promise<void> {
    const pins = this.#options.pins;
    if (pins === undefined) throw new TypeError('approveDefinitions without a pin store');
    // The hash the verdict holds was worked out from this very definition when it was judged.
    const hashed = items.map((item) => ({ ...item, hash: item.verdict?.hash ?? definitionHash(item.definition) }));
    pins.approve(
      server,
      hashed.map((item) => ({ kind: item.kind, name: item.name, hash: item.hash, definition: item.definition })),
      by,
      drop,
    );
    for (const item of hashed) {
      const verdict = item.verdict;
      await this.#record('mcp.definition', {
        server,
        kind: item.kind,
        name: item.name.slice(0, 2048),
        state: 'approved',
        hash: item.hash,
        ...(verdict?.pinnedHash === null || verdict?.pinnedHash === undefined
          ? {}
          : { pinned_hash: verdict.pinnedHash }),
        findings: findingRecords(verdict?.findings ?? []),
      });
    }
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
        state: this.#definitions.toolVerdict(entry.server, entry.upstreamName)?.state ?? 'shown',
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
        state: 'rejected',
      });
    return out;
  }

  async listTools(session: string): Promise<Tool[]> {
    await this.#relist();
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

  /** `tools/call`, through the pipeline: resolve → schema → normalise → decide → forward → screen. */
  async callTool(
    session: string,
    name: string,
    rawArgs: Record<string, unknown> | undefined,
    options: CallOptions = {},
  ): Promise<CallToolResult> {
    const call: PipelineCall = newCall({
      subject: 'tool',
      method: undefined,
      session,
      name,
      requestId: options.requestId ?? null,
      args: rawArgs ?? {},
      send: (upstream) =>
        upstream.request(
          'tools/call',
          { name: call.entry?.upstreamName ?? name, arguments: call.args },
          CallToolResultSchema,
          {
            timeoutMs: this.#options.callTimeoutMs,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
            ...(options.onProgress === undefined ? {} : { onprogress: options.onProgress }),
          },
        ),
    });
    return (await this.#request(call, this.#toolStages)) as CallToolResult;
  }

  async listPrompts(session: string): Promise<Prompt[]> {
    await this.#relist();
    const shown: Prompt[] = [];
    const hidden: { name: string; reason: string }[] = [];
    for (const entry of this.#catalog.prompts.values()) {
      const decision = this.#screened(this.#decide('list_prompt', entry, 'prompt'), entry);
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
    const call: PipelineCall = newCall({
      subject: 'prompt',
      method: undefined,
      session,
      name,
      requestId: options.requestId ?? null,
      args: args ?? {},
      send: (upstream) =>
        upstream.request(
          'prompts/get',
          { name: call.entry?.upstreamName ?? name, ...(args === undefined ? {} : { arguments: args }) },
          GetPromptResultSchema,
          this.#requestOptions(options),
        ),
    });
    return (await this.#request(call, this.#promptStages)) as GetPromptResult;
  }

  async listResources(session: string): Promise<Resource[]> {
    await this.#relist();
    const shown: Resource[] = [];
    const hidden: { name: string; reason: string }[] = [];
    for (const entry of this.#catalog.resources.values()) {
      const decision = this.#screened(this.#decide('list_resource', entry, 'resource'), entry);
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
    const call = this.#resourceCall(session, uri, options, 'resources/subscribe', (upstream) =>
      upstream.request('resources/subscribe', { uri }, EmptyResultSchema, this.#requestOptions(options)),
    );
    await this.#request(call, this.#resourceStages);
    const entry = call.entry;
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
    const call = this.#resourceCall(session, uri, options, 'resources/unsubscribe', async (upstream) => {
      if (sessions !== undefined && sessions.size > 0) return {};
      return upstream.request('resources/unsubscribe', { uri }, EmptyResultSchema, this.#requestOptions(options));
    });
    await this.#request(call, this.#resourceStages);
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
      const call: PipelineCall = newCall({
        subject: 'prompt',
        method: 'completion/complete',
        session,
        name,
        requestId: options.requestId ?? null,
        args: {},
        send: (upstream) => send(upstream, { type: 'ref/prompt', name: call.entry?.upstreamName ?? name }),
      });
      return (await this.#request(call, this.#promptStages)) as CompleteResult;
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

  /**
   * The `_meta` of a list answer, from the servers the profile grants something of. With one such
   * server, its list's `_meta` as it sent it (the agent sees what it would see directly). With
   * several, each server's under its name in `dev.warden/servers`: a list's `_meta` speaks of that
   * server's list, so merged flat one server's keys would override another's or seem to describe
   * its items. Each server's is bounded (16 KiB of JSON, see upstream.ts); none: undefined.
   */
  listMeta(list: ListKey): Record<string, unknown> | undefined {
    const granted = this.#options.compiled.servers;
    const metas = granted.flatMap((server) => {
      const meta = this.#upstreams.get(server)?.listMeta(list);
      return meta === undefined ? [] : [[server, meta] as const];
    });
    if (metas.length === 0) return undefined;
    if (granted.length === 1) return { ...metas[0]?.[1] };
    return { [SERVERS_META_KEY]: Object.fromEntries(metas) };
  }

  /**
   * Templates of servers the profile grants some resource of (a template reveals no content),
   * except those screening or their pins hide (SCAN-01, SCAN-05).
   */
  async listResourceTemplates(): Promise<ResourceTemplate[]> {
    await this.#relist();
    const granting = new Set(this.#options.compiled.servers);
    return this.#catalog.resourceTemplates
      .filter((t) => granting.has(t.server))
      .filter((t) => this.#definitions.verdict(t.server, 'resource', t.item.uriTemplate)?.hidden == null)
      .map((t) => t.item);
  }

  async readResource(session: string, uri: string, options: CallOptions = {}): Promise<ReadResourceResult> {
    const call = this.#resourceCall(session, uri, options, undefined, (upstream) =>
      upstream.request('resources/read', { uri }, ReadResourceResultSchema, this.#requestOptions(options)),
    );
    return (await this.#request(call, this.#resourceStages)) as ReadResourceResult;
  }

  // ------------------------------------------------------------------ the pipeline

  /** Runs one request through its stages (pipeline.ts); exactly one mcp.call record, however it ends. */
  async #request(call: PipelineCall, stages: readonly Stage[]): Promise<unknown> {
    this.#refuseIfAuditBroken();
    return runPipeline(call, stages, (done, stop) => this.#finish(this.#callRecord(done, stop)));
  }

  #resourceCall(
    session: string,
    uri: string,
    options: CallOptions,
    method: string | undefined,
    send: (upstream: Upstream) => Promise<unknown>,
  ): PipelineCall {
    return newCall({
      subject: 'resource',
      method,
      session,
      name: uri,
      requestId: options.requestId ?? null,
      args: { uri },
      send,
    });
  }

  /** The mcp.call record of a call that ended: stopped by a stage (`stop`), or answered. */
  #callRecord(call: PipelineCall, stop: StopRecord | null): CallRecord {
    const decision = call.decision;
    return {
      subject: call.subject,
      session: call.session,
      name: call.name,
      ...(call.method === undefined ? {} : { method: call.method }),
      server: call.entry?.server ?? null,
      upstream_name: call.entry?.upstreamName ?? null,
      arguments: call.recordedArgs ?? this.#options.redactor.redact(call.args),
      decision: stop?.decision ?? 'allow',
      policy_ids: stop?.policy_ids ?? decision?.policyIds ?? [],
      reason: stop?.reason ?? decision?.reason ?? 'granted',
      outcome: stop?.outcome ?? 'ok',
      tool_error: stop === null && call.subject === 'tool' && isToolError(call.result),
      upstream_ms: call.upstreamMs,
      result_bytes: call.resultBytes,
      ...(stop?.error === undefined ? {} : { error: stop.error }),
      ...(call.scan === undefined ? {} : { scan: call.scan }),
    };
  }

  /** resolve (tools): the tool exists and is listed to this agent; hidden and unknown look the same (GW-01). */
  readonly #resolveTool: Stage = {
    name: 'resolve',
    run: (call) => {
      const entry = this.#catalog.tools.get(call.name);
      call.entry = entry;
      const listed = entry === undefined ? null : this.#listDecision(entry);
      if (entry !== undefined && listed?.allow === true) return undefined;
      // The log says why it was hidden: the reason it is not listed, or the policy's for calling it.
      const decision =
        entry === undefined || listed === null
          ? { allow: false, policyIds: [], reason: 'no such tool' }
          : listed.hiddenBy !== undefined
            ? listed
            : this.#decide('call_tool', entry, 'tool', { args: {}, hosts: {}, ports: {} });
      return {
        record: {
          decision: 'deny',
          policy_ids: decision.policyIds,
          reason: decision.reason,
          outcome: entry === undefined ? 'unknown' : 'denied',
        },
        reply: { error: rpcError(RPC.invalidParams, `Unknown tool: ${call.name.slice(0, 80)}`) },
      };
    },
  };

  /** resolve (prompts, resources): who owns it. */
  readonly #resolveOwner: Stage = {
    name: 'resolve',
    run: (call) => {
      call.entry = call.subject === 'prompt' ? this.#catalog.prompts.get(call.name) : this.#resourceOwner(call.name);
      if (call.entry === undefined)
        return {
          record: { decision: 'deny', policy_ids: [], reason: `no such ${call.subject}`, outcome: 'unknown' },
          reply: { error: notFound(call) },
        };
      const hidden = this.#screened({ allow: true, policyIds: [], reason: '' }, call.entry);
      if (hidden.allow) return undefined;
      return {
        record: { decision: 'deny', policy_ids: [], reason: hidden.reason, outcome: 'denied' },
        reply: { error: notFound(call) },
      };
    },
  };

  /** schema (GW-04): the upstream's own inputSchema, before the policy looks at anything. */
  readonly #schema: Stage = {
    name: 'schema',
    run: (call) => {
      const entry = call.entry as CatalogEntry<Tool>;
      const validator = this.#validators.validatorFor(
        `${entry.server}\u0000${entry.upstreamName}`,
        entry.item.inputSchema,
      );
      const checked =
        typeof validator === 'string' ? { valid: false as const, errorMessage: validator } : validator(call.args);
      if (checked.valid) return undefined;
      return {
        record: {
          decision: 'deny',
          policy_ids: [],
          reason: 'arguments do not match the inputSchema',
          outcome: 'invalid',
          error: checked.errorMessage.slice(0, 500),
        },
        reply: {
          result: toolErrorResult(`Invalid arguments for tool ${call.name}: ${checked.errorMessage.slice(0, 300)}`),
        },
      };
    },
  };

  /** normalise (GW-12): path arguments resolved on the host, the resolved paths forwarded. */
  readonly #normalise: Stage = {
    name: 'normalise',
    run: (call) => {
      const entry = call.entry as CatalogEntry<Tool>;
      const plan = this.#planFor(entry);
      // resolve hid every tool whose plan failed, so this holds; checked again all the same.
      if (!plan.ok)
        return {
          record: { decision: 'deny', policy_ids: [plan.grant], reason: plan.reason, outcome: 'denied' },
          reply: { error: rpcError(RPC.invalidParams, `Unknown tool: ${call.name.slice(0, 80)}`) },
        };
      const prepared = prepareArguments(
        call.args,
        plan.plan,
        () => new CallPathResolver(this.#options.workspace, this.#trustedRoot),
      );
      if (!prepared.ok) {
        const outside = prepared.outside === true;
        return {
          record: {
            decision: 'deny',
            policy_ids: [],
            reason: prepared.reason,
            outcome: outside ? 'denied' : 'invalid',
          },
          reply: outside
            ? { error: rpcError(RPC.denied, `Warden policy refused this call to ${call.name}: ${LEADS_OUTSIDE}`) }
            : { result: toolErrorResult(`Invalid arguments for tool ${call.name}: ${prepared.reason}`) },
        };
      }
      call.args = prepared.forwarded;
      call.tool = { contexts: prepared.contexts, paths: prepared.paths, pathKeys: plan.plan.pathConditions };
      return undefined;
    },
  };

  /** decide: the policy, on normalised arguments for a tool (every path combination), else on the name. */
  readonly #decideStage: Stage = {
    name: 'decide',
    run: (call) => {
      const entry = call.entry;
      if (entry === undefined) throw new TypeError('decide before resolve');
      if (call.subject === 'tool') {
        const tool = call.tool;
        if (tool === null) throw new TypeError('decide before normalise');
        const { decision, denied } = this.#decideCall(entry as CatalogEntry<Tool>, tool.contexts);
        call.decision = decision;
        if (decision.allow) return undefined;
        const refusal = this.#refusal(entry as CatalogEntry<Tool>, decision, denied, tool.pathKeys, tool.paths);
        return {
          record: { decision: 'deny', policy_ids: decision.policyIds, reason: refusal.audit, outcome: 'denied' },
          reply: { error: rpcError(RPC.denied, `Warden policy refused this call to ${call.name}: ${refusal.agent}`) },
        };
      }
      const decision = this.#decide(call.subject === 'prompt' ? 'get_prompt' : 'read_resource', entry, call.subject);
      call.decision = decision;
      if (decision.allow) return undefined;
      return {
        record: { decision: 'deny', policy_ids: decision.policyIds, reason: decision.reason, outcome: 'denied' },
        reply: { error: notFound(call) },
      };
    },
  };

  /** forward: to the server that owns it, tracked so requests it sends back reach this session. */
  readonly #forward: Stage = {
    name: 'forward',
    run: async (call) => {
      const entry = call.entry;
      const decision = call.decision;
      if (entry === undefined || decision === null) throw new TypeError('forward before decide');
      const upstream = this.#upstreams.get(entry.server);
      const started = performance.now();
      try {
        if (upstream === undefined) throw new UpstreamUnavailableError(`server ${entry.server} is not running`);
        const answer = this.#relay.track(entry.server, call.session, call.requestId, () => call.send(upstream));
        // The request is on its way: prepare the record's arguments while the server works.
        call.recordedArgs = this.#options.redactor.redact(call.args);
        call.result = await answer;
        call.upstreamMs = roundMs(performance.now() - started);
        call.resultBytes = Buffer.byteLength(JSON.stringify(call.result));
        return undefined;
      } catch (error) {
        if (error instanceof GatewayRpcError && error.code === RPC.auditUnavailable) throw error;
        const failure = this.#classify(error, entry.server);
        call.upstreamMs = roundMs(performance.now() - started);
        return {
          record: {
            decision: 'allow',
            policy_ids: decision.policyIds,
            reason: decision.reason,
            outcome: failure.outcome,
            error: failure.detail,
          },
          reply: { error: failure.error },
        };
      }
    },
  };

  /** screen (SCAN-07): what the server answered is scanned before the agent sees it. */
  readonly #screen: Stage = {
    name: 'screen',
    run: (call) => this.#screenAnswer(call),
  };

  readonly #toolStages: readonly Stage[] = [
    this.#resolveTool,
    this.#schema,
    this.#normalise,
    this.#decideStage,
    this.#forward,
    this.#screen,
  ];
  readonly #promptStages: readonly Stage[] = [this.#resolveOwner, this.#decideStage, this.#forward, this.#screen];
  readonly #resourceStages: readonly Stage[] = [this.#resolveOwner, this.#decideStage, this.#forward, this.#screen];

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
  #listDecision(entry: CatalogEntry<Tool>): ListDecision {
    const decision = this.#decide('list_tool', entry, 'tool');
    if (!decision.allow) return decision;
    const plan = this.#planFor(entry);
    if (!plan.ok)
      return { allow: false, policyIds: [plan.grant], reason: `${NOT_CHECKABLE}: ${plan.reason}`, hiddenBy: 'plan' };
    const screened = this.#definitions.toolHidden(entry.server, entry.upstreamName);
    if (screened !== null) return { allow: false, policyIds: [], reason: screened, hiddenBy: 'screen' };
    return decision;
  }

  /**
   * A prompt's or resource's list decision, unless screening or its pin hid it (SCAN-01, SCAN-02,
   * SCAN-05). A resource read through a template is hidden when its template is.
   */
  #screened(decision: Decision, entry: CatalogEntry<unknown>): Decision {
    if (!decision.allow) return decision;
    const item = entry.item;
    const hidden =
      item === null
        ? this.#templateHidden(entry.server, entry.upstreamName)
        : typeof item === 'object' && 'uri' in item
          ? (this.#definitions.verdict(entry.server, 'resource', entry.upstreamName)?.hidden ?? null)
          : this.#definitions.promptHidden(entry.server, entry.upstreamName);
    return hidden === null ? decision : { allow: false, policyIds: [], reason: hidden };
  }

  /** Why a URI read through a server's templates is hidden: any template it matches is (fail closed). */
  #templateHidden(server: string, uri: string): string | null {
    for (const t of this.#catalog.resourceTemplates) {
      if (t.server !== server || !templateMatches(t.item.uriTemplate, uri)) continue;
      const hidden = this.#definitions.verdict(server, 'resource', t.item.uriTemplate)?.hidden ?? null;
      if (hidden !== null) return hidden;
    }
    return null;
  }

  /**
   * screen (SCAN-07): a tool result or resource contents scanned before the agent sees them; by
   * the policy, passed, annotated, wrapped as untrusted data, or withheld. Prompts are templates
   * the user chose; subscribe and completion answers carry no server text worth screening.
   */
  #screenAnswer(call: PipelineCall): Stop | undefined {
    const scanner = this.#options.scanner;
    if (scanner === undefined || call.method !== undefined || call.subject === 'prompt') return undefined;
    const label = call.subject === 'tool' ? `tool ${call.name}` : `resource ${call.name.slice(0, 200)}`;
    const screened = screenAnswer(
      call.subject,
      label,
      call.result,
      scanner,
      this.#options.scanPolicy ?? DEFAULT_SCAN_POLICY,
    );
    if (screened === null) return undefined;
    call.scan = { action: screened.action, findings: findingRecords(screened.findings) };
    if (screened.action !== 'withheld') {
      call.result = screened.result;
      return undefined;
    }
    const decision = call.decision ?? { policyIds: [], reason: 'granted' };
    const text = withheldText(label, screened.findings);
    return {
      record: { decision: 'allow', policy_ids: decision.policyIds, reason: decision.reason, outcome: 'withheld' },
      reply: call.subject === 'tool' ? { result: toolErrorResult(text) } : { error: rpcError(RPC.withheld, text) },
    };
  }

  /** What a server relays (sampling, elicitation, log messages), screened as an answer is (SCAN-07). */
  #screenRelayed(value: unknown): { withheld: boolean; findings: ReturnType<typeof findingRecords> } | null {
    const scanner = this.#options.scanner;
    if (scanner === undefined) return null;
    const screened = screenRelayed(value, scanner, this.#options.scanPolicy ?? DEFAULT_SCAN_POLICY);
    return screened === null ? null : { withheld: screened.withheld, findings: findingRecords(screened.findings) };
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

  async #finish(data: CallRecord): Promise<void> {
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

  #record<T extends 'mcp.call' | 'mcp.listed' | 'mcp.server' | 'mcp.definition'>(
    type: T,
    data: EventPayloads[T],
  ): Promise<unknown> {
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

  /**
   * Re-reads every server's lists before an agent's tools/list (at most once a second per server),
   * so a definition changed without list_changed is judged against its pin before it is shown.
   */
  async #relist(): Promise<void> {
    const changed = await Promise.all([...this.#upstreams.values()].map((u) => u.relist(RELIST_INTERVAL_MS)));
    if (!changed.includes(true)) return;
    this.#validators.clear();
    this.#rebuild();
    for (const listener of this.#listeners) listener();
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
    for (const upstream of this.#upstreams.values()) {
      try {
        this.#definitions.judge(upstream.name, {
          tools: upstream.tools,
          prompts: upstream.prompts,
          resources: upstream.resources,
          resourceTemplates: upstream.resourceTemplates,
          instructions: upstream.instructions,
        });
      } catch (error) {
        if (this.#starting) throw error;
        // Later (a list_changed): what it offers is hidden until the pins can be read again.
        this.#definitions.hideServer(upstream.name, upstream, (error as Error).message);
      }
    }
    this.#catalog = buildCatalog(offers, this.#options.names ?? 'prefixed');
  }
}

/**
 * What the agent is told when a path of its call leads outside the workspace and the call is
 * refused, whatever the reason (not there, a dangling link, the policy): warden looks at host
 * files with its own rights and must not become a way to learn what exists there.
 */
const LEADS_OUTSIDE = 'a path in this call leads outside the workspace, to a place no grant allows';

/** An mcp.call record; the fields an early refusal has no value for default to null/false. */
type CallRecord = Omit<EventPayloads['mcp.call'], 'tool_error' | 'upstream_ms' | 'result_bytes'> &
  Partial<Pick<EventPayloads['mcp.call'], 'tool_error' | 'upstream_ms' | 'result_bytes'>>;

/** A list decision; `hiddenBy` says when something other than the policy hid the tool. */
type ListDecision = Decision & { readonly hiddenBy?: 'plan' | 'screen' };

/** "Unknown prompt" / "Resource not found": what an unknown, hidden or refused one looks like (GW-01). */
function notFound(call: PipelineCall): GatewayRpcError {
  return rpcError(
    RPC.invalidParams,
    call.subject === 'prompt'
      ? `Unknown prompt: ${call.name.slice(0, 80)}`
      : `Resource not found: ${call.name.slice(0, 200)}`,
  );
}

function isToolError(result: unknown): boolean {
  return typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true;
}

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
