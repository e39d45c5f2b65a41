/**
 * JSON-RPC errors the gateway returns to agents (the wire family of design.md convention 4).
 * Messages are generic enough for an outside caller; the audit log holds the detail.
 */
import type { McpError } from '@modelcontextprotocol/sdk/types.js';

export const RPC = {
  // JSON-RPC 2.0's own codes, and the SDK's ErrorCode.RequestTimeout (as plain numbers).
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  timeout: -32001,
  /** The policy refused this call (the tool is granted, these arguments are not). */
  denied: -32003,
  /** The upstream server is down or restarting. */
  unavailable: -32004,
  /** The audit log cannot record the call, so it is not made (AUD-03). */
  auditUnavailable: -32005,
  /** The upstream's result exceeded the size cap. */
  tooLarge: -32013,
} as const;

/**
 * An error the SDK server sends as `{ code, message }`. Not an McpError: that class prefixes its
 * message with "MCP error <code>:", and the agent's client adds its own prefix again.
 */
export class GatewayRpcError extends Error {
  override readonly name = 'GatewayRpcError';
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export function rpcError(code: number, message: string): GatewayRpcError {
  return new GatewayRpcError(code, message);
}

/** An upstream's McpError re-sent to the agent, without the SDK's message prefix. */
export function fromUpstream(error: McpError): GatewayRpcError {
  return new GatewayRpcError(error.code, error.message.replace(/^MCP error -?\d+: /, ''));
}
