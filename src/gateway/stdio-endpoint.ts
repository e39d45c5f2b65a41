/**
 * `warden gateway --stdio`: the gateway as a desktop client's (Claude Desktop, VS Code, Cursor)
 * only MCP server, over newline-delimited JSON-RPC on stdin/stdout. Every line passes the strict
 * boundary (GW-05) before the SDK sees it; a bad line is answered with a JSON-RPC error and never
 * forwarded. Nothing but protocol messages is written to stdout.
 */
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import {
  boundaryErrorResponse,
  DEFAULT_BOUNDARY_LIMITS,
  parseJsonRpc,
  type BoundaryLimits,
} from './jsonrpc-boundary.js';
import { RPC } from './errors.js';
import type { Gateway } from './gateway.js';
import { createSessionServer } from './session.js';

export interface StdioEndpointOptions {
  readonly input: Readable;
  readonly output: Writable;
  readonly limits?: BoundaryLimits;
  readonly onRejected?: (reason: string, code: number) => void;
}

/** A server-side transport over a byte stream pair with the strict boundary in front. */
class StrictStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #options: StdioEndpointOptions;
  readonly #limits: BoundaryLimits;
  readonly #inFlight = new Set<string | number>();
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #discarding = false;
  #initializeSeen = false;
  #closed = false;

  constructor(options: StdioEndpointOptions) {
    this.#options = options;
    this.#limits = options.limits ?? DEFAULT_BOUNDARY_LIMITS;
  }

  start(): Promise<void> {
    this.#options.input.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#options.input.on('end', () => void this.close());
    this.#options.input.on('error', (error: Error) => {
      this.onerror?.(error);
      void this.close();
    });
    this.#options.output.on('error', () => void this.close());
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('stdio transport closed'));
    if ('id' in message && ('result' in message || 'error' in message) && message.id !== undefined)
      this.#inFlight.delete(message.id);
    return this.#write(message);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#options.input.removeAllListeners('data');
    this.onclose?.();
    return Promise.resolve();
  }

  #write(message: unknown): Promise<void> {
    return new Promise((resolve) => {
      if (this.#options.output.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.#options.output.once('drain', resolve);
    });
  }

  /** Splits lines; a line over the byte cap is dropped as it streams (memory stays bounded). */
  #onData(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#take(chunk.subarray(start, nl));
      this.#endLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.#take(chunk.subarray(start));
  }

  #take(part: Buffer): void {
    if (this.#discarding || part.length === 0) return;
    this.#pendingBytes += part.length;
    // One byte of slack for a CRLF line end's '\r', which #endLine strips before it checks the size.
    if (this.#pendingBytes > this.#limits.maxBytes + 1) {
      this.#discarding = true;
      this.#pending = [];
      return;
    }
    this.#pending.push(part);
  }

  #endLine(): void {
    const oversized = this.#discarding;
    const line = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#discarding = false;
    if (oversized) return this.#refuse(null, RPC.invalidRequest, `message larger than ${this.#limits.maxBytes} bytes`);
    const text = line.at(-1) === 13 ? line.subarray(0, -1) : line;
    if (text.length === 0) return;
    if (text.length > this.#limits.maxBytes)
      return this.#refuse(null, RPC.invalidRequest, `message larger than ${this.#limits.maxBytes} bytes`);
    const result = parseJsonRpc(text, this.#limits);
    if (!result.ok) {
      this.#options.onRejected?.(result.reason, result.code);
      void this.#write(boundaryErrorResponse(result));
      return;
    }
    const parsed = result.parsed;
    // The SDK silently drops a message its own schema rejects (e.g. params._meta that is not an
    // object), which would leave the client waiting and the id in flight forever: answer it here.
    if (!JSONRPCMessageSchema.safeParse(parsed.message).success) {
      const reason = 'the message is not a valid MCP JSON-RPC message (check params and params._meta)';
      // A response or notification gets no reply (JSON-RPC); it is dropped on the record.
      if (parsed.kind !== 'request') return this.#options.onRejected?.(reason, RPC.invalidRequest);
      return this.#refuse(parsed.id, RPC.invalidRequest, reason);
    }
    if (parsed.kind === 'request') {
      // One initialize per session: its protocol version and capabilities then stay fixed (GW-10).
      if (parsed.method === 'initialize') {
        if (this.#initializeSeen)
          return this.#refuse(
            parsed.id,
            RPC.invalidRequest,
            'this session is already initialized; start a new session to initialize again',
          );
        this.#initializeSeen = true;
      }
      if (this.#inFlight.has(parsed.id))
        return this.#refuse(
          parsed.id,
          RPC.invalidRequest,
          'duplicate request id: a request with this id is still in flight',
        );
      this.#inFlight.add(parsed.id);
    }
    this.onmessage?.(parsed.message as JSONRPCMessage);
  }

  #refuse(id: string | number | null, code: number, reason: string): void {
    this.#options.onRejected?.(reason, code);
    void this.#write({ jsonrpc: '2.0', id, error: { code, message: reason } });
  }
}

/** Serves `gateway` on a stream pair until the input ends; resolves then. */
export async function serveStdio(gateway: Gateway, options: StdioEndpointOptions): Promise<void> {
  const transport = new StrictStdioTransport(options);
  const server = createSessionServer(gateway, 'stdio');
  const closed = new Promise<void>((resolve) => {
    const detach = server.onclose;
    server.onclose = () => {
      detach?.();
      resolve();
    };
  });
  await server.connect(transport);
  await closed;
}
