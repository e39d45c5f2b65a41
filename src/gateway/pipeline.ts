/**
 * The gateway's one ordered pipeline. Every request an agent makes of a server (tools/call,
 * prompts/get, resources/read, subscribe, completion) passes the same list of stages —
 * resolve → schema → normalise → decide → forward → screen the answer — and exactly one audit
 * record is written when it leaves, however it leaves (AUD-01). A stage that stops the request
 * says why as a value (design.md convention 5): the audit fields, and what the agent gets.
 * A new check (secret redaction, monitoring) is one more stage in the list, not a twin path.
 */
import type { EventPayloads, McpOutcome, McpSubject } from '../core/events.js';
import type { Decision } from '../policy/index.js';
import type { CatalogEntry } from './catalog.js';
import type { GatewayRpcError } from './errors.js';
import type { CallContext } from '../policy/index.js';
import type { PathOrigin } from './arguments.js';
import type { Upstream } from './upstream.js';

/** What one request carries from stage to stage; stages fill it in as they go. */
export interface PipelineCall {
  readonly subject: Extract<McpSubject, 'tool' | 'prompt' | 'resource'>;
  /** The MCP method, recorded when it is not the subject's usual one (resources/subscribe, …). */
  readonly method: string | undefined;
  readonly session: string;
  /** The name the agent used (exposed name, or the resource URI). */
  readonly name: string;
  readonly requestId: string | number | null;
  /** The arguments: as the agent sent them, then as they will be forwarded (after normalise). */
  args: Record<string, unknown>;
  /** The catalogue entry the request is for (resolve). */
  entry: CatalogEntry<unknown> | undefined;
  /** The policy's decision (decide). */
  decision: Decision | null;
  /** How long the upstream took, and the size of its answer (forward). */
  upstreamMs: number | null;
  resultBytes: number | null;
  /**
   * The arguments as the audit record keeps them (AUD-05), prepared by forward while the server
   * works on the request, so that less is left to do between its answer and the agent's.
   */
  recordedArgs: Record<string, unknown> | null;
  /** The answer, once there is one (forward; screen may replace it). */
  result: unknown;
  /** What screening found and did (screen). */
  scan: EventPayloads['mcp.call']['scan'];
  /** Sends the request to the server that owns it (forward). */
  readonly send: (upstream: Upstream) => Promise<unknown>;
  /** A tool call's policy contexts, its path arguments and the keys path conditions decide (normalise). */
  tool: {
    readonly contexts: readonly CallContext[];
    readonly paths: readonly PathOrigin[];
    readonly pathKeys: readonly string[];
  } | null;
}

/** The audit fields a stage that stops a request sets. */
export interface StopRecord {
  readonly decision: 'allow' | 'deny';
  readonly policy_ids: readonly string[];
  readonly reason: string;
  readonly outcome: McpOutcome;
  readonly error?: string;
}

/**
 * A stage stopped the request: what goes on record, and what the agent gets — a JSON-RPC error,
 * or a result (an `isError` tool result for arguments that do not fit, a withheld answer).
 */
export interface Stop {
  readonly record: StopRecord;
  readonly reply: { readonly error: GatewayRpcError } | { readonly result: unknown };
}

/** One stage: returns a Stop to end the request there, or nothing to pass it on. */
export interface Stage {
  readonly name: string;
  run(call: PipelineCall): Stop | undefined | Promise<Stop | undefined>;
}

/** A tool result telling the model what went wrong, so it can correct itself (2025-11-25 prefers this to a JSON-RPC error). */
export function toolErrorResult(text: string): { content: { type: 'text'; text: string }[]; isError: true } {
  return { content: [{ type: 'text', text }], isError: true };
}

/** Starts a call's state. */
export function newCall(
  fields: Pick<PipelineCall, 'subject' | 'method' | 'session' | 'name' | 'requestId' | 'args' | 'send'>,
): PipelineCall {
  return {
    ...fields,
    entry: undefined,
    decision: null,
    upstreamMs: null,
    resultBytes: null,
    recordedArgs: null,
    result: undefined,
    scan: undefined,
    tool: null,
  };
}

/**
 * Runs `call` through `stages` in order. `record` writes the one audit record (it throws when the
 * log cannot take it: the agent then gets that error, never the answer — AUD-03).
 */
export async function runPipeline(
  call: PipelineCall,
  stages: readonly Stage[],
  record: (call: PipelineCall, outcome: StopRecord | null) => Promise<void>,
): Promise<unknown> {
  for (const stage of stages) {
    const stop = await stage.run(call);
    if (stop === undefined) continue;
    await record(call, stop.record);
    if ('error' in stop.reply) throw stop.reply.error;
    return stop.reply.result;
  }
  await record(call, null);
  return call.result;
}
