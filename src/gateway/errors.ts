/**
 * JSON-RPC errors on the wire (the second family of design.md convention 4): every code the
 * gateway, its endpoints and its bridges send, in one registry. docs/errors.md lists each one
 * ("JSON-RPC errors"); src/gateway/errors.test.ts keeps the two in step. Messages are generic
 * enough for an outside caller; the audit log holds the detail.
 */
import type { McpError } from '@modelcontextprotocol/sdk/types.js';

/** One wire code: its number, and when a caller gets it (the text docs/errors.md must carry). */
export interface RpcCode {
  readonly code: number;
  readonly meaning: string;
}

/**
 * Every JSON-RPC error code warden sends. JSON-RPC 2.0's own codes, the two the MCP SDK defines
 * (-32000 connection closed, -32001 request timeout), and warden's in the implementation-defined
 * server-error range (-32000 to -32099), clear of the SDK's.
 */
export const RPC_CODES = {
  parseError: { code: -32700, meaning: 'the message is not valid JSON (or not UTF-8, or has a byte order mark)' },
  invalidRequest: {
    code: -32600,
    meaning: 'the message is not a valid JSON-RPC request: wrong shape, too large, too deep, or a session problem',
  },
  methodNotFound: { code: -32601, meaning: 'warden does not serve or relay that method' },
  invalidParams: {
    code: -32602,
    meaning:
      'unknown (or hidden) tool, prompt or resource, or arguments that do not fit: hidden and unknown look the same (GW-01); also a list request with a cursor (the gateway issues none)',
  },
  internal: {
    code: -32603,
    meaning: 'warden failed internally, a remote server was unreachable, or the call was cancelled',
  },
  connectionClosed: { code: -32000, meaning: 'the connection to a server or the agent closed during the request' },
  timeout: { code: -32001, meaning: 'the server did not answer within the call timeout (mcp.call_timeout)' },
  denied: { code: -32003, meaning: 'the policy refused this call: the tool is granted, these arguments are not' },
  unavailable: { code: -32004, meaning: 'the server is down or restarting' },
  auditUnavailable: {
    code: -32005,
    meaning: 'the audit log cannot record the call, so it is not made (AUD-03); see `warden doctor`',
  },
  withheld: {
    code: -32006,
    meaning:
      'a prompt or resource the server returned was withheld: its text carries instructions aimed at the model (SCAN-07)',
  },
  busy: {
    code: -32007,
    meaning:
      'the session already has the most requests in flight that it may (stdio and HTTP alike); send more when answers have come',
  },
  tooLarge: { code: -32013, meaning: "the server's message is larger than the size cap" },
} as const satisfies Readonly<Record<string, RpcCode>>;

type RpcName = keyof typeof RPC_CODES;

/** The codes by name, as plain numbers: `RPC.denied` is -32003. */
export const RPC = Object.fromEntries(Object.entries(RPC_CODES).map(([name, { code }]) => [name, code])) as {
  readonly [K in RpcName]: (typeof RPC_CODES)[K]['code'];
};

/**
 * An error the SDK server sends as `{ code, message }`. Not an McpError: that class prefixes its
 * message with "MCP error <code>:", and the agent's client adds its own prefix again.
 */
export class GatewayRpcError extends Error {
  override readonly name = 'GatewayRpcError';
  readonly code: number;
  /** JSON-RPC `data` (e.g. an upstream error's own data, passed on). */
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

export function rpcError(code: number, message: string): GatewayRpcError {
  return new GatewayRpcError(code, message);
}

/** Characters of an upstream error's message passed on. */
const MAX_UPSTREAM_MESSAGE = 4096;
/** Bytes of JSON of an upstream error's `data` passed on; larger data is left out. */
const MAX_UPSTREAM_DATA_BYTES = 16 * 1024;

/**
 * An upstream's McpError re-sent to the agent with its code, its message (without the SDK's
 * prefix, at most 4096 characters) and its `data` (when at most 16 KiB of JSON; else left out,
 * so one server's error cannot make the gateway hold and send megabytes per failed call).
 */
export function fromUpstream(error: McpError): GatewayRpcError {
  const message = error.message.replace(/^MCP error -?\d+: /, '');
  const data: unknown = error.data;
  let size = Infinity;
  try {
    size = data === undefined ? 0 : (JSON.stringify(data)?.length ?? 0);
  } catch {
    // Not serialisable (cannot happen for data parsed from JSON): left out.
  }
  return new GatewayRpcError(
    error.code,
    message.length > MAX_UPSTREAM_MESSAGE ? `${message.slice(0, MAX_UPSTREAM_MESSAGE)}…` : message,
    size <= MAX_UPSTREAM_DATA_BYTES ? data : undefined,
  );
}
