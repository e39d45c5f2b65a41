/**
 * One upstream MCP server as the gateway sees it: a sandboxed process (started by the runtime
 * through `LaunchUpstream`), an SDK client over a bounded line transport, and what it offers
 * (tools, prompts, resources). A server that dies is restarted with backoff; meanwhile its calls
 * fail at once with a clear error instead of hanging (GW-06).
 */
import type { Readable, Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ProgressCallback } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ListPromptsResultSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  ProgressNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { WARDEN_VERSION } from '../core/version.js';
import { LineTransport } from './line-transport.js';

/** A started upstream process: its stdio, how it ends, how to stop it. */
export interface UpstreamProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly exited: Promise<unknown>;
  /** Kills the process (and its sandbox) and releases everything; idempotent. */
  stop(): Promise<void>;
  /**
   * What the process left that explains a failure: the newest part of its stderr (bounded, safe
   * to record), how it ended (null while it runs), and problems the runtime saw (e.g. egress its
   * proxy refused), each with the config change that would fix it.
   */
  diagnose?(): UpstreamDiagnosis;
}

/** See {@link UpstreamProcess.diagnose}. */
export interface UpstreamDiagnosis {
  readonly stderr: string;
  readonly exit: string | null;
  readonly problems: readonly { readonly message: string; readonly hint: string }[];
}

/** The first start of a server failed; the message says why, in words a user can act on. */
export class UpstreamStartError extends Error {
  override readonly name = 'UpstreamStartError';
  constructor(
    message: string,
    readonly diagnosis: UpstreamDiagnosis | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How long a failed start waits for the process to end, so that its last words are in. */
const EXIT_WAIT_MS = 1_000;

/** Starts a server's process (in its own sandbox); provided by the runtime. */
export type LaunchUpstream = (server: string) => Promise<UpstreamProcess>;

export type UpstreamState = 'starting' | 'ready' | 'restarting' | 'stopped';

export interface UpstreamEvents {
  /** State changes and protocol trouble, for the audit log (`stderr`: the ended process's newest stderr). */
  onState(
    state: 'started' | 'exited' | 'restarting' | 'failed' | 'stopped',
    detail: string,
    extra?: { readonly stderr?: string },
  ): void;
  /** The upstream's lists changed (after a notification or a restart). */
  onListsChanged(): void;
  /**
   * The server sent a request for the agent (only for the features in `relay`); resolves with
   * the agent's answer, or rejects with the error the server should get.
   */
  onServerRequest(
    feature: RelayFeature,
    request: { readonly method: string; readonly params: Record<string, unknown> },
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
  /** The server sent a log message (notifications/message) or a resource update (notifications/resources/updated). */
  onNotification(
    method: 'notifications/message' | 'notifications/resources/updated',
    params: Record<string, unknown>,
  ): void;
}

/** A request a server may send its client, which the gateway can relay to the agent. */
export type RelayFeature = 'sampling' | 'elicitation' | 'roots';

export interface UpstreamOptions {
  readonly maxMessageBytes: number;
  /** Longest the server may take to start and answer initialize and the first lists. */
  readonly startTimeoutMs: number;
  /**
   * Server-to-client requests the profile lets this server send (relayed to the agent). The
   * gateway declares these capabilities, and only these, when it initializes the server.
   */
  readonly relay?: ReadonlySet<RelayFeature>;
}

/** Raised when a call cannot reach the server right now. */
export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
}

const MAX_LIST_ITEMS = 10_000;
const MAX_LIST_PAGES = 100;
/**
 * Largest list item kept as the server sent it, in bytes of JSON. The SDK's schemas strip keys
 * they do not know (a newer spec's fields, a prompt argument's title): an item that passes the
 * schema is kept whole up to this size, and stripped beyond it.
 */
const MAX_KEPT_ITEM_BYTES = 64 * 1024;
/** A list page as sent: validated with the SDK's schema separately, so unknown keys survive. */
const RAW_PAGE = z.looseObject({});
const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];
/** Largest list-level `_meta` kept (bytes of JSON); a larger one is dropped. */
const MAX_LIST_META_BYTES = 16 * 1024;

/** The four lists a server may offer (the keys of their results). */
export type ListKey = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export class Upstream {
  readonly name: string;
  #state: UpstreamState = 'starting';
  #client: Client | null = null;
  #process: UpstreamProcess | null = null;
  #tools: readonly Tool[] = [];
  #prompts: readonly Prompt[] = [];
  #resources: readonly Resource[] = [];
  #templates: readonly ResourceTemplate[] = [];
  /** Each list's result-level `_meta` as the server last sent it (its first page's), bounded. */
  #listMeta: Partial<Record<ListKey, Readonly<Record<string, unknown>>>> = {};
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  /**
   * Progress callbacks of requests in flight, by the progress token warden chose. Warden routes
   * progress itself: the SDK client runs a notification handler a microtask late but settles a
   * response at once, so the last progress a server sent just before its result was dropped.
   */
  readonly #progress = new Map<string, ProgressCallback>();
  #progressSeq = 0;
  readonly #launch: LaunchUpstream;
  readonly #events: UpstreamEvents;
  readonly #options: UpstreamOptions;

  constructor(name: string, launch: LaunchUpstream, events: UpstreamEvents, options: UpstreamOptions) {
    this.name = name;
    this.#launch = launch;
    this.#events = events;
    this.#options = options;
  }

  /** When the lists were last read (performance.now()). */
  #listedAt = -Infinity;

  get state(): UpstreamState {
    return this.#state;
  }
  get tools(): readonly Tool[] {
    return this.#tools;
  }
  get prompts(): readonly Prompt[] {
    return this.#prompts;
  }
  get resources(): readonly Resource[] {
    return this.#resources;
  }
  get resourceTemplates(): readonly ResourceTemplate[] {
    return this.#templates;
  }
  /**
   * A list's result-level `_meta` as the server sent it with its first page, when it is an object
   * of at most 16 KiB of JSON; else undefined.
   */
  listMeta(list: ListKey): Readonly<Record<string, unknown>> | undefined {
    return this.#listMeta[list];
  }
  /** The server's initialize `instructions`, if it gave any (bounded by the message cap). */
  get instructions(): string | undefined {
    return this.#client?.getInstructions();
  }
  get capabilities(): ServerCapabilities {
    return this.#client?.getServerCapabilities() ?? {};
  }

  /** First start: throws when the server cannot be started or does not speak MCP. */
  async start(): Promise<void> {
    await this.#connect();
    this.#events.onState(
      'started',
      `${this.#tools.length} tools, ${this.#prompts.length} prompts, ${this.#resources.length} resources`,
    );
  }

  /** Sends one request; throws UpstreamUnavailableError when the server is not ready. */
  async request<S extends z.ZodType>(
    method: string,
    params: Record<string, unknown> | undefined,
    schema: S,
    options: { timeoutMs: number; signal?: AbortSignal; onprogress?: ProgressCallback },
  ): Promise<z.output<S>> {
    const client = this.#client;
    if (this.#state !== 'ready' || client === null)
      throw new UpstreamUnavailableError(
        `server ${this.name} is ${this.#state === 'stopped' ? 'stopped' : 'restarting'}; try again shortly`,
      );
    let token: string | undefined;
    let sent = params;
    if (options.onprogress !== undefined) {
      token = `warden-${++this.#progressSeq}`;
      this.#progress.set(token, options.onprogress);
      const meta = params?._meta !== null && typeof params?._meta === 'object' ? params._meta : {};
      sent = { ...params, _meta: { ...meta, progressToken: token } };
    }
    try {
      return await client.request({ method, ...(sent === undefined ? {} : { params: sent }) }, schema as never, {
        timeout: options.timeoutMs,
        maxTotalTimeout: options.timeoutMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } finally {
      if (token !== undefined) this.#progress.delete(token);
    }
  }

  /**
   * Delivers a progress notification synchronously, as it arrives, so every progress a server sent
   * before its result reaches the agent before that result. Progress for a token not in flight
   * (late, or made up) is dropped.
   */
  #routeProgress(message: unknown): void {
    const parsed = ProgressNotificationSchema.safeParse(message);
    if (!parsed.success) return;
    const { progressToken, ...progress } = parsed.data.params;
    const callback = typeof progressToken === 'string' ? this.#progress.get(progressToken) : undefined;
    callback?.(progress);
  }

  /** Stops the server; resolves with its newest stderr (empty when it was not running). */
  async stop(): Promise<string> {
    this.#state = 'stopped';
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    const client = this.#client;
    this.#client = null;
    await client?.close().catch(() => undefined);
    const process = this.#process;
    this.#process = null;
    await process?.stop();
    return process?.diagnose?.().stderr ?? '';
  }

  async #connect(): Promise<void> {
    const process = await this.#launch(this.name);
    this.#process = process;
    const transport = new LineTransport({
      input: process.stdout,
      output: process.stdin,
      maxLineBytes: this.#options.maxMessageBytes,
      onProtocolError: (problem) =>
        this.#events.onState('failed', `protocol error (${problem.kind}): ${problem.detail}`),
    });
    // Sampling, elicitation and roots only where the profile relays them (mcp.relay): a server
    // that was not offered them sends no such requests, and the SDK refuses any it sends anyway.
    const relay = this.#options.relay ?? new Set<RelayFeature>();
    const client = new Client(
      { name: 'warden-gateway', version: WARDEN_VERSION },
      {
        capabilities: {
          ...(relay.has('sampling') ? { sampling: {} } : {}),
          ...(relay.has('elicitation') ? { elicitation: {} } : {}),
          ...(relay.has('roots') ? { roots: {} } : {}),
        },
      },
    );
    const forward =
      (feature: RelayFeature) => (request: { method: string; params?: unknown }, extra: { signal: AbortSignal }) =>
        this.#events.onServerRequest(
          feature,
          { method: request.method, params: (request.params ?? {}) as Record<string, unknown> },
          extra.signal,
        ) as never;
    if (relay.has('sampling')) client.setRequestHandler(CreateMessageRequestSchema, forward('sampling'));
    if (relay.has('elicitation')) client.setRequestHandler(ElicitRequestSchema, forward('elicitation'));
    if (relay.has('roots')) client.setRequestHandler(ListRootsRequestSchema, forward('roots'));
    const deadline = this.#options.startTimeoutMs;
    try {
      await client.connect(transport, { timeout: deadline });
      const deliver = transport.onmessage;
      transport.onmessage = (message, extra) => {
        if ('method' in message && message.method === 'notifications/progress' && !('id' in message))
          this.#routeProgress(message);
        else deliver?.(message, extra);
      };
      this.#client = client;
      await this.#refreshLists(client, deadline);
    } catch (error) {
      await client.close().catch(() => undefined);
      // Let the process finish dying, so its last stderr and its exit status are in.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        process.exited,
        new Promise((resolve) => {
          timer = setTimeout(resolve, EXIT_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      await process.stop();
      this.#process = null;
      this.#client = null;
      const diagnosis = process.diagnose?.() ?? null;
      throw new UpstreamStartError(startFailure(error, diagnosis, deadline, this.name), diagnosis, { cause: error });
    }
    client.onclose = () => this.#lost(client);
    const refresh = () => {
      void this.#refreshLists(client, deadline).then(
        () => this.#events.onListsChanged(),
        (error: unknown) => this.#events.onState('failed', `could not refresh lists: ${(error as Error).message}`),
      );
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, refresh);
    client.setNotificationHandler(PromptListChangedNotificationSchema, refresh);
    client.setNotificationHandler(ResourceListChangedNotificationSchema, refresh);
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
      this.#events.onNotification(n.method, n.params as Record<string, unknown>),
    );
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) =>
      this.#events.onNotification(n.method, n.params as Record<string, unknown>),
    );
    if (this.#state === 'stopped') {
      // stop() ran while this (re)start was in flight.
      this.#client = null;
      await client.close().catch(() => undefined);
      await process.stop();
      return;
    }
    this.#state = 'ready';
  }

  /**
   * Re-reads the server's lists now, at most once per `minIntervalMs`: a server may change its
   * tools without telling (no list_changed), and a pinned definition must be compared with what
   * it offers now (SCAN-05). Resolves whether anything changed; a failure leaves the lists as they were.
   */
  async relist(minIntervalMs: number): Promise<boolean> {
    const client = this.#client;
    if (this.#state !== 'ready' || client === null || performance.now() - this.#listedAt < minIntervalMs) return false;
    const before = JSON.stringify([this.#tools, this.#prompts, this.#resources, this.#templates]);
    try {
      await this.#refreshLists(client, this.#options.startTimeoutMs);
    } catch {
      return false;
    }
    return JSON.stringify([this.#tools, this.#prompts, this.#resources, this.#templates]) !== before;
  }

  async #refreshLists(client: Client, timeoutMs: number): Promise<void> {
    this.#listedAt = performance.now();
    const caps = client.getServerCapabilities() ?? {};
    const meta: Partial<Record<ListKey, Readonly<Record<string, unknown>>>> = {};
    const list = async <T>(method: string, schema: z.ZodType, key: ListKey): Promise<T[]> => {
      const items: T[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const raw = (await client.request(
          { method, ...(cursor === undefined ? {} : { params: { cursor } }) },
          RAW_PAGE as never,
          { timeout: timeoutMs },
        )) as Record<string, unknown>;
        const result = schema.parse(raw) as Record<string, unknown>;
        if (page === 0) {
          const kept = boundedMeta(raw['_meta']);
          if (kept !== undefined) meta[key] = kept;
        }
        const parsed = (result[key] as T[] | undefined) ?? [];
        const sent = raw[key] as unknown[];
        items.push(...parsed.map((item, i) => keptWhole<T>(sent[i], item)));
        if (items.length > MAX_LIST_ITEMS)
          throw new Error(`server ${this.name} lists more than ${MAX_LIST_ITEMS} ${key}`);
        cursor = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
        if (cursor === undefined) return items;
      }
      throw new Error(`server ${this.name} paginates ${key} beyond ${MAX_LIST_PAGES} pages`);
    };
    this.#tools = caps.tools === undefined ? [] : await list<Tool>('tools/list', ListToolsResultSchema, 'tools');
    this.#prompts =
      caps.prompts === undefined ? [] : await list<Prompt>('prompts/list', ListPromptsResultSchema, 'prompts');
    this.#resources =
      caps.resources === undefined
        ? []
        : await list<Resource>('resources/list', ListResourcesResultSchema, 'resources');
    this.#templates =
      caps.resources === undefined
        ? []
        : await list<ResourceTemplate>(
            'resources/templates/list',
            ListResourceTemplatesResultSchema,
            'resourceTemplates',
          );
    this.#listMeta = meta;
  }

  /** The connection ended without stop(): restart with backoff. */
  #lost(client: Client): void {
    if (this.#client !== client || this.#state === 'stopped') return;
    this.#client = null;
    const process = this.#process;
    this.#process = null;
    this.#state = 'restarting';
    // Its stderr is recorded once the process has ended (and its last words are in).
    void (async () => {
      if (process !== null) {
        await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())]);
        await process.stop();
      }
      if (this.#state === 'stopped') return;
      const diagnosis = process?.diagnose?.() ?? null;
      this.#scheduleRestart(
        `connection lost${diagnosis === null || diagnosis.exit === null ? '' : ` (the server ${diagnosis.exit})`}`,
        diagnosis?.stderr,
      );
    })();
  }

  #scheduleRestart(why: string, stderr?: string): void {
    this.#state = 'restarting';
    const delay = BACKOFF_MS[Math.min(this.#restarts, BACKOFF_MS.length - 1)] ?? 30_000;
    this.#restarts++;
    this.#events.onState(
      'restarting',
      `${why}; restarting in ${delay} ms (attempt ${this.#restarts})`,
      stderr === undefined || stderr === '' ? {} : { stderr },
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#state === 'stopped') return;
      this.#connect().then(
        () => {
          this.#events.onState('started', `restarted: ${this.#tools.length} tools`);
          this.#events.onListsChanged();
          // A server that stays up a minute has recovered: start the backoff over.
          setTimeout(() => {
            if (this.#state === 'ready') this.#restarts = 0;
          }, 60_000).unref();
        },
        (error: unknown) => {
          if (this.#state !== 'stopped')
            this.#scheduleRestart(
              `restart failed: ${(error as Error).message}`,
              error instanceof UpstreamStartError ? error.diagnosis?.stderr : undefined,
            );
        },
      );
    }, delay);
    this.#restartTimer.unref();
  }
}

/**
 * Why a first start failed, in words a user can act on: the SDK says "Connection closed" when the
 * process exits before answering; the process's own account (its exit, its last stderr line, the
 * egress its proxy refused) says why.
 */
function startFailure(error: unknown, diagnosis: UpstreamDiagnosis | null, deadlineMs: number, server: string): string {
  const raw = error instanceof Error ? error.message : String(error);
  const timedOut = /timed? ?out/i.test(raw);
  // The SDK's own words ("Connection closed", "Request timed out") say nothing a user can act on;
  // anything else (e.g. the server's JSON-RPC error to initialize) is the server's account: kept.
  const generic = timedOut || /connection closed/i.test(raw);
  const exit = diagnosis?.exit ?? null;
  const parts: string[] = [];
  if (!generic) parts.push(raw);
  // A server that timed out was stopped by the gateway: its exit then says nothing of its own.
  if (timedOut)
    parts.push(
      `the server did not answer initialize and list what it offers within ${Math.round(deadlineMs / 1000)} s (raise servers.${server}.start_timeout if it needs longer)`,
    );
  else if (exit !== null)
    parts.push(generic ? `the server ${exit} before it answered initialize` : `the server ${exit}`);
  else if (generic) parts.push(raw);
  for (const problem of diagnosis?.problems ?? []) parts.push(problem.message);
  const last = diagnosis === null ? null : lastStderrLine(diagnosis.stderr);
  if (last !== null) parts.push(`its stderr says: ${last}`);
  return parts.join('; ');
}

/**
 * The line of a server's stderr that most likely says what went wrong: the first that reads like
 * an error (Node and npm print it first and a stack after; Python prints one at the end of a
 * traceback), else the last line; at most 300 characters.
 */
function lastStderrLine(text: string): string | null {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('[… earlier') && !/complete log of this run/i.test(l));
  const line =
    lines.find((l) =>
      /\b(error|fatal|exception|panic|cannot|can't|failed|denied|refused|forbidden|not found)\b/i.test(l),
    ) ?? lines[lines.length - 1];
  if (line === undefined) return null;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The item as the server sent it (it passed the SDK's schema as `parsed`), unless it is too large to keep whole. */
function keptWhole<T>(sent: unknown, parsed: T): T {
  if (sent === null || typeof sent !== 'object') return parsed;
  return JSON.stringify(sent).length <= MAX_KEPT_ITEM_BYTES ? (sent as T) : parsed;
}

/** A list's `_meta` when it is a plain object of at most MAX_LIST_META_BYTES of JSON; else undefined. */
function boundedMeta(value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return JSON.stringify(value).length <= MAX_LIST_META_BYTES ? (value as Record<string, unknown>) : undefined;
}
