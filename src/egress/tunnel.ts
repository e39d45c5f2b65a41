/**
 * The byte pipe behind CONNECT and SOCKS5, with the domain-fronting gate (NET-05).
 *
 * Client→upstream bytes are held until the first bytes have been classified: a TLS ClientHello
 * whose SNI names another host than the one the tunnel was allowed for closes both sides before
 * a single client byte reaches the upstream. Upstream→client bytes flow from the start, so
 * protocols where the server speaks first (SMTP, SSH) work; the gate only starts timing once
 * the client has sent something.
 */
import type { Socket } from 'node:net';
import { normaliseHost } from '../core/host-pattern.js';
import { parseClientHello } from './sni.js';

/** Why the gate closed a tunnel. */
export type GateRefusal =
  | { readonly kind: 'sni_mismatch'; readonly serverName: string }
  | { readonly kind: 'malformed'; readonly detail: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'too_large' };

/** Settings for {@link startTunnel}. */
export interface TunnelOptions {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Client bytes already received (after the CONNECT head or the SOCKS request). */
  readonly head: Buffer;
  /** The normalised host the tunnel was allowed for. */
  readonly host: string;
  /** Most client bytes held while waiting for a complete ClientHello. */
  readonly maxHoldBytes: number;
  /** How long to wait for the rest of a ClientHello once it has begun. */
  readonly holdTimeoutMs: number;
  /** Inactivity (both directions) after which the tunnel is closed. */
  readonly idleTimeoutMs: number;
  /** Called after both sides were closed because of the gate. */
  readonly onRefused: (refusal: GateRefusal) => void;
}

/** Wires `client` and `upstream` together; tears both down when either ends badly. */
export function startTunnel(options: TunnelOptions): void {
  const { client, upstream } = options;
  let held: Buffer = options.head;
  let timer: NodeJS.Timeout | undefined;
  let gateOpen = false;

  const closeBoth = (): void => {
    if (timer) clearTimeout(timer);
    client.destroy();
    upstream.destroy();
  };
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  // A client that has gone away can receive nothing more, so its upstream goes too. An
  // upstream that ended cleanly has been half-closed towards the client by pipe(), which lets
  // the client read the rest; one that closed abruptly takes the client down with it.
  client.on('close', () => {
    if (timer) clearTimeout(timer);
    upstream.destroy();
  });
  upstream.on('close', () => {
    if (!client.writableEnded) client.destroy();
  });
  const onIdle = (): void => closeBoth();
  client.setTimeout(options.idleTimeoutMs, onIdle);
  upstream.setTimeout(options.idleTimeoutMs, onIdle);

  upstream.pipe(client);

  const refuse = (refusal: GateRefusal): void => {
    client.off('data', onData);
    closeBoth();
    options.onRefused(refusal);
  };
  const open = (): void => {
    gateOpen = true;
    if (timer) clearTimeout(timer);
    client.off('data', onData);
    client.off('end', onEndWhileHeld);
    if (held.length > 0) upstream.write(held);
    held = Buffer.alloc(0);
    client.pipe(upstream);
  };
  const evaluate = (): void => {
    const result = parseClientHello(held);
    switch (result.kind) {
      case 'not_tls':
        open();
        return;
      case 'need_more':
        if (held.length > options.maxHoldBytes) {
          refuse({ kind: 'too_large' });
          return;
        }
        timer ??= setTimeout(() => refuse({ kind: 'timeout' }), options.holdTimeoutMs);
        return;
      case 'malformed':
        refuse({ kind: 'malformed', detail: result.detail });
        return;
      case 'client_hello': {
        if (result.serverName === null) {
          open();
          return;
        }
        const sni = normaliseHost(result.serverName);
        if (!sni.ok || sni.value.host !== options.host) {
          refuse({ kind: 'sni_mismatch', serverName: result.serverName });
          return;
        }
        open();
        return;
      }
    }
  };
  const onData = (chunk: Buffer): void => {
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    evaluate();
  };
  // A client that half-closes before the ClientHello is complete has nothing more to send;
  // an incomplete TLS record never gets through.
  const onEndWhileHeld = (): void => {
    if (held.length === 0) {
      gateOpen = true;
      upstream.end();
    } else {
      refuse({ kind: 'malformed', detail: 'client closed before its first TLS record was complete' });
    }
  };
  client.once('end', onEndWhileHeld);
  if (held.length > 0) evaluate();
  if (!gateOpen && !client.destroyed) {
    client.on('data', onData);
    // The SOCKS5 handshake leaves the socket explicitly paused; a 'data' listener alone would not resume it.
    client.resume();
  }
}
