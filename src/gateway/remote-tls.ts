/**
 * The TLS pin of a remote MCP server (SCAN-06): the sha256 of the DER SubjectPublicKeyInfo of the
 * server's own (leaf) certificate, as a catalog url entry's `tls_spki_sha256` gives it. The remote
 * bridge (remote-bridge.ts) checks it on every TLS connection it opens, before a byte of MCP is
 * sent: a pinned server is trusted by its key alone (a certificate no CA signed is accepted when
 * its key matches, any other key is refused whoever signed it); an unpinned server keeps Node's
 * own verification (the system's CAs and NODE_EXTRA_CA_CERTS), untouched.
 *
 * The connection goes through the sandbox's egress proxy like any other (an HTTP CONNECT tunnel,
 * opened with undici's own CONNECT support), so the proxy's allow-list and records still apply.
 *
 * Built as an asset of its own (dist/assets/mcp-remote-tls.mjs, with undici) that the bridge loads
 * only for a pinned server: an unpinned server's bridge does not load or parse it.
 */
import { once } from 'node:events';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Agent, Client, setGlobalDispatcher, type buildConnector } from 'undici';
import { spkiSha256 } from '../core/tls-key.js';

/** A TLS connection whose key is not the pinned one. */
export class TlsPinMismatch extends Error {
  override readonly name = 'TlsPinMismatch';
  constructor(
    readonly authority: string,
    readonly expected: string,
    readonly seen: string,
  ) {
    super(
      `PROVENANCE_MISMATCH: the TLS key of ${authority} does not match the catalog's pin: expected tls_spki_sha256 ${expected}, seen ${seen}`,
    );
  }
}

/**
 * An undici dispatcher whose every TLS connection must present the pinned key. `proxy`: the
 * egress proxy's URL (http, with `user:password` sent as Proxy-Authorization), or null to connect
 * directly; `noProxy`: host names reached directly. `onMismatch` hears of a refused key first.
 */
export function pinnedDispatcher(options: {
  readonly pin: string;
  readonly proxy: URL | null;
  readonly noProxy: readonly string[];
  readonly onMismatch: (error: TlsPinMismatch) => void;
  readonly timeoutMs?: number;
}): Agent {
  const { pin, proxy, noProxy, onMismatch } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let tunnels: Client | null = null;
  const tunnel = async (host: string, port: number): Promise<Duplex> => {
    if (proxy === null) throw new Error('no proxy');
    tunnels ??= new Client(proxy.origin);
    const authority = `${host}:${port}`;
    const auth =
      proxy.username === ''
        ? {}
        : {
            'proxy-authorization': `Basic ${Buffer.from(
              `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`,
            ).toString('base64')}`,
          };
    const { socket, statusCode } = await tunnels.connect({
      path: authority,
      headers: { host: authority, ...auth },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (statusCode !== 200) {
      socket.destroy();
      throw new Error(`the egress proxy refused a tunnel to ${authority} (HTTP ${statusCode})`);
    }
    return socket;
  };
  return new Agent({
    connect: (opts: buildConnector.Options, callback: buildConnector.Callback) => {
      void (async () => {
        if (opts.protocol !== 'https:') throw new Error('a TLS-pinned server is reached over https only');
        const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
        const port = Number(opts.port === '' ? 443 : opts.port);
        const direct = proxy === null || noProxy.includes(host);
        const raw = direct ? undefined : await tunnel(host, port);
        const servername = isIP(host) === 0 ? (opts.servername ?? host) : undefined;
        // Chain and host name are not what trust rests on here: the key is (checked below,
        // before undici may write anything on the socket).
        const socket = tlsConnect({
          host,
          port,
          ...(raw === undefined ? {} : { socket: raw }),
          ...(servername === undefined ? {} : { servername }),
          rejectUnauthorized: false,
          ALPNProtocols: ['http/1.1'],
        });
        const timer = setTimeout(
          () => socket.destroy(new Error(`TLS handshake with ${host}:${port} timed out`)),
          timeoutMs,
        );
        try {
          await once(socket, 'secureConnect');
        } finally {
          clearTimeout(timer);
        }
        const certificate = socket.getPeerX509Certificate();
        const seen = certificate === undefined ? 'no certificate' : spkiSha256(certificate);
        if (seen !== pin) {
          socket.destroy();
          const error = new TlsPinMismatch(`${host}:${port}`, pin, seen);
          onMismatch(error);
          throw error;
        }
        return socket;
      })().then(
        (socket: TLSSocket) => callback(null, socket),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
      );
    },
  });
}

/**
 * Makes `fetch` in this process (and so the SDK's transport) connect only through the pinned
 * connector, replacing the preload's proxy dispatcher. The bridge's entry point into this asset.
 */
export function installPinnedDispatcher(options: Parameters<typeof pinnedDispatcher>[0]): void {
  setGlobalDispatcher(pinnedDispatcher(options));
}
