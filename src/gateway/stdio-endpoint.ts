/**
 * `warden gateway --stdio`: the gateway as a desktop client's (Claude Desktop, VS Code, Cursor)
 * only MCP server, over newline-delimited JSON-RPC on stdin/stdout. Every line passes the strict
 * boundary (GW-05) before the SDK sees it; a bad line is answered with a JSON-RPC error and never
 * forwarded. Nothing but protocol messages is written to stdout.
 */
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Gateway } from './gateway.js';
import { LineFramer } from './line-framer.js';
import { createSessionServer } from './session.js';
import { coalesceWrites } from './coalesce-writes.js';
import {
  oversizedRefusal,
  refusalResponse,
  SessionGuard,
  sessionLimits,
  type Refusal,
  type SessionLimits,
} from './session-guard.js';

export interface StdioEndpointOptions {
  readonly input: Readable;
  readonly output: Writable;
  /** The session limits (session-guard.ts); the defaults are the fixed ones in docs/config.md. */
  readonly limits?: Partial<SessionLimits>;
  readonly onRejected?: (reason: string, code: number) => void;
}

/** A server-side transport over a byte stream pair with the session guard in front. */
class StrictStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #options: StdioEndpointOptions;
  readonly #guard: SessionGuard;
  readonly #framer: LineFramer;
  #closed = false;

  constructor(options: StdioEndpointOptions) {
    this.#options = options;
    this.#guard = new SessionGuard(sessionLimits(options.limits));
    // The one line framing (line-framer.ts): the line ending is not part of the message, so a
    // message of exactly the byte cap passes with LF or CRLF, as the same body does over HTTP.
    this.#framer = new LineFramer({
      maxLineBytes: this.#guard.limits.maxBytes,
      onLine: (line) => this.#onLine(line),
      onOversized: () => this.#refuse(oversizedRefusal(this.#guard.limits)),
      // A message cut off by the end of input was never finished: it is not acted on.
      partialLastLine: 'drop',
    });
  }

  start(): Promise<void> {
    this.#options.input.on('data', (chunk: Buffer) => this.#framer.push(chunk));
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
      this.#guard.settle(message.id);
    return this.#write(message);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#framer.stop();
    this.#options.input.removeAllListeners('data');
    this.onclose?.();
    return Promise.resolve();
  }

  #write(message: unknown): Promise<void> {
    return new Promise((resolve) => {
      coalesceWrites(this.#options.output);
      if (this.#options.output.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.#options.output.once('drain', resolve);
    });
  }

  /** One line within the byte cap (the framer refused longer ones): the session guard, then the SDK. */
  #onLine(line: Buffer): void {
    const admission = this.#guard.admit(line);
    if (!admission.ok) return this.#refuse(admission.refusal);
    this.onmessage?.(admission.parsed.message as JSONRPCMessage);
  }

  /** Answers a refused request (a notification or response gets no reply, JSON-RPC); all on the record. */
  #refuse(refusal: Refusal): void {
    this.#options.onRejected?.(refusal.reason, refusal.code);
    if (refusal.answer) void this.#write(refusalResponse(refusal));
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
