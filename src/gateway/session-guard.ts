/**
 * The agent-facing session guard: the one set of limits and refusals every session of the
 * gateway's endpoints holds to, on stdio and on Streamable HTTP alike (GW-05, GW-10). Each
 * endpoint frames messages its own way (lines, request bodies) and renders a refusal its own way
 * (a JSON-RPC error line; an HTTP status with the same JSON-RPC error as its body); what is
 * refused, with which code and which words, is decided here.
 *
 * In order, for each message: its size, the strict boundary (jsonrpc-boundary.ts), the SDK's own
 * message schema (a message the SDK would drop silently is answered instead), one initialize per
 * session, no duplicate of a request id still in flight, and at most `maxInFlight` requests in
 * flight. A refusal is a value; nothing here throws for an agent's input.
 */
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { ENDPOINT_LIMITS } from '../core/limits.js';
import { RPC } from './errors.js';
import {
  boundaryErrorResponse,
  parseJsonRpc,
  type BoundaryLimits,
  type JsonRpcId,
  type ParsedMessage,
} from './jsonrpc-boundary.js';

/** The limits every agent-facing session holds to. */
export interface SessionLimits extends BoundaryLimits {
  /** Requests of one session awaiting their answer at once. */
  readonly maxInFlight: number;
  /** Open sessions of one HTTP endpoint (a stdio endpoint serves exactly one). */
  readonly maxSessions: number;
  /** SSE events an HTTP session keeps for resumption (event-store.ts); stdio has no streams to resume. */
  readonly replayEvents: number;
  /** Bytes of SSE events an HTTP session keeps for resumption. */
  readonly replayBytes: number;
}

/** The fixed defaults (src/core/limits.ts, listed in docs/config.md). */
export const DEFAULT_SESSION_LIMITS: SessionLimits = Object.freeze({
  maxBytes: ENDPOINT_LIMITS.messageBytes,
  maxDepth: ENDPOINT_LIMITS.nestingDepth,
  maxInFlight: ENDPOINT_LIMITS.requestsInFlight,
  maxSessions: ENDPOINT_LIMITS.sessions,
  replayEvents: ENDPOINT_LIMITS.replayEvents,
  replayBytes: ENDPOINT_LIMITS.replayBytes,
});

/** Why a message was refused; each endpoint maps the kind to its own framing (e.g. an HTTP status). */
export type RefusalKind = 'oversized' | 'malformed' | 'unreadable' | 'reinitialize' | 'duplicate' | 'busy';

/** A refused message: the JSON-RPC error it is answered with (or, for a notification, dropped on the record). */
export interface Refusal {
  readonly kind: RefusalKind;
  /** The message's id when it could be read safely, else null. */
  readonly id: JsonRpcId | null;
  readonly code: number;
  readonly reason: string;
  /** Whether the sender expects an answer: false for a notification or response (JSON-RPC). */
  readonly answer: boolean;
}

/** The verdict on one message. */
export type Admission =
  { readonly ok: true; readonly parsed: ParsedMessage } | { readonly ok: false; readonly refusal: Refusal };

/** The limits with defaults filled in. */
export function sessionLimits(limits: Partial<SessionLimits> | undefined): SessionLimits {
  return { ...DEFAULT_SESSION_LIMITS, ...limits };
}

/** The refusal of a message larger than the size limit (its bytes are never read). */
export function oversizedRefusal(limits: BoundaryLimits): Refusal {
  return {
    kind: 'oversized',
    id: null,
    code: RPC.invalidRequest,
    reason: `message larger than ${limits.maxBytes} bytes`,
    answer: true,
  };
}

/** The JSON-RPC error answering `refusal`. */
export function refusalResponse(refusal: Refusal): Record<string, unknown> {
  return { jsonrpc: '2.0', id: refusal.id, error: { code: refusal.code, message: refusal.reason } };
}

/** The size and strict-boundary checks alone (e.g. HTTP's first message, before a session exists). */
export function screenBoundary(bytes: Uint8Array, limits: BoundaryLimits): Admission {
  if (bytes.length > limits.maxBytes) return { ok: false, refusal: oversizedRefusal(limits) };
  const result = parseJsonRpc(bytes, limits);
  if (result.ok) return result;
  const body = boundaryErrorResponse(result) as { id: JsonRpcId | null; error: { code: number; message: string } };
  return {
    ok: false,
    refusal: { kind: 'malformed', id: body.id, code: body.error.code, reason: body.error.message, answer: true },
  };
}

/** Checks one message of a session: size, strict boundary, then the SDK's own schema. */
export function screenMessage(bytes: Uint8Array, limits: BoundaryLimits): Admission {
  const screened = screenBoundary(bytes, limits);
  if (!screened.ok) return screened;
  const parsed = screened.parsed;
  // The SDK silently drops a message its own schema rejects (e.g. params._meta that is not an
  // object), which would leave the client waiting and the id in flight forever: refuse it here.
  if (!JSONRPCMessageSchema.safeParse(parsed.message).success) {
    return {
      ok: false,
      refusal: {
        kind: 'unreadable',
        id: parsed.kind === 'request' ? parsed.id : null,
        code: RPC.invalidRequest,
        reason: 'the message is not a valid MCP JSON-RPC message (check params and params._meta)',
        answer: parsed.kind === 'request',
      },
    };
  }
  return { ok: true, parsed };
}

/** One session's state: whether it was initialized, and its requests in flight. */
export class SessionGuard {
  readonly limits: SessionLimits;
  readonly #inFlight = new Set<JsonRpcId>();
  #initialized = false;

  /** @param limits this session's limits (defaults filled in by {@link sessionLimits}) */
  constructor(limits: SessionLimits) {
    this.limits = limits;
  }

  /** Requests admitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Screens one message of this session and, when it is a request, admits it: from then on its
   * id is in flight until {@link settle}.
   */
  admit(bytes: Uint8Array): Admission {
    const screened = screenMessage(bytes, this.limits);
    if (!screened.ok) return screened;
    const refusal = this.admitParsed(screened.parsed);
    return refusal === null ? screened : { ok: false, refusal };
  }

  /** The session rules for a message that passed {@link screenMessage}; null when admitted. */
  admitParsed(parsed: ParsedMessage): Refusal | null {
    if (parsed.kind !== 'request') return null;
    const refuse = (kind: RefusalKind, reason: string, code: number = RPC.invalidRequest): Refusal => ({
      kind,
      id: parsed.id,
      code,
      reason,
      answer: true,
    });
    // One initialize per session: its protocol version and capabilities then stay fixed (GW-10).
    if (parsed.method === 'initialize') {
      if (this.#initialized)
        return refuse('reinitialize', 'this session is already initialized; open a new session to initialize again');
      this.#initialized = true;
    }
    if (this.#inFlight.has(parsed.id))
      return refuse('duplicate', 'duplicate request id: a request with this id is still in flight');
    if (this.#inFlight.size >= this.limits.maxInFlight)
      return refuse(
        'busy',
        `too many requests in flight: this session already waits for ${this.limits.maxInFlight} answers; send more when some have come`,
        RPC.busy,
      );
    this.#inFlight.add(parsed.id);
    return null;
  }

  /** The request `id` was answered (or its caller went away): it no longer counts as in flight. */
  settle(id: JsonRpcId): void {
    this.#inFlight.delete(id);
  }
}
