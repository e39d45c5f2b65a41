/**
 * Connections to upstream servers — always to an address the policy already checked, never to
 * a name (a second resolution could answer differently: DNS rebinding, NET-07).
 */
import { Agent } from 'node:http';
import type { AgentOptions, ClientRequestArgs } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Why an upstream connection could not be made, in words safe to show the client. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  /** `timeout` when the deadline passed, else the socket error code (e.g. ECONNREFUSED). */
  readonly code: string;
  constructor(code: string) {
    super(`could not connect (${code})`);
    this.code = code;
  }
}

function connectOne(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError('timeout'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new UpstreamError('code' in err && typeof err.code === 'string' ? err.code : 'error'));
    };
    socket.once('error', onError);
  });
}

/**
 * Connects to the first checked address that answers, trying them in order within one overall
 * deadline (an IPv6 answer on a host without IPv6 routes then falls back to IPv4).
 * @param addresses IP addresses already allowed by the policy, best first
 */
export async function connectChecked(addresses: readonly string[], port: number, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = new UpstreamError('no address');
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) throw new UpstreamError('timeout');
    try {
      return await connectOne(address, port, left);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Request options that carry the checked candidates to {@link CheckedAgent}. */
export interface CheckedRequestOptions extends ClientRequestArgs {
  /** Checked addresses, best first; `host` must be the first of them (it is the pool key). */
  readonly wardenAddresses: readonly string[];
  readonly wardenConnectTimeoutMs: number;
}

type CreateCallback = (err: Error | null, stream: Duplex) => void;

/**
 * A keep-alive agent for plain-HTTP forwarding that opens new sockets with {@link connectChecked},
 * so it can fall back across the checked addresses. Pooled sockets are keyed by the first
 * address and port, so a reused connection always goes to an address checked for this request.
 */
export class CheckedAgent extends Agent {
  constructor(options: AgentOptions) {
    super(options);
  }

  override createConnection(options: ClientRequestArgs, callback?: CreateCallback): Duplex | null | undefined {
    const checked = options as Partial<CheckedRequestOptions>;
    const addresses = checked.wardenAddresses ?? [];
    const port = Number(options.port);
    connectChecked(addresses, port, checked.wardenConnectTimeoutMs ?? 10_000).then(
      (socket) => callback?.(null, socket),
      (err: unknown) =>
        callback?.(err instanceof Error ? err : new UpstreamError('error'), undefined as unknown as Duplex),
    );
    return undefined;
  }
}
