/**
 * The bridge to a remote (url:) MCP server: a small program the runtime starts in a server
 * sandbox of its own, like any stdio server (built to dist/assets/mcp-remote-bridge.mjs, which
 * the sandbox sees in its library). The gateway speaks MCP to it over stdin/stdout; it relays
 * every JSON-RPC message, unread, to the server over Streamable HTTP and back. The sandbox's only
 * network is its egress proxy, which allows the server's host and nothing else, so the remote
 * server is reached under the same allow-list, address checks and audit as any other egress.
 *
 * usage: node mcp-remote-bridge.mjs URL
 * Exits when stdin closes (the gateway stopped it) or the server ends the session. With
 * WARDEN_REMOTE_TLS_SPKI_SHA256 (a catalog entry's TLS pin), every connection must present that
 * key (remote-tls.ts); a connection that does not ends the bridge at once (exit 3, the reason on
 * stderr), so the server is not used and the gateway reports why.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { RPC } from './errors.js';
import type * as RemoteTls from './remote-tls.js';
import { LineFramer } from './line-framer.js';

/** Lines the gateway sends are bounded by the gateway; this caps what the bridge will hold. */
const MAX_LINE_BYTES = 8 * 1024 * 1024;
/** What a request gets when the server cannot be reached. */
const UNREACHABLE = RPC.internal;

function fail(text: string): never {
  process.stderr.write(`mcp-remote-bridge: ${text}\n`);
  process.exit(2);
}

/**
 * An error in words, with its cause: fetch says only "fetch failed" and keeps why (refused
 * connection, an untrusted certificate, a TLS key that is not the pinned one) in `cause`.
 */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : null;
  return cause === null || cause === '' || error.message.includes(cause)
    ? error.message
    : `${error.message} (${cause})`;
}

function write(message: JSONRPCMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function readHeaders(json: string | undefined): Record<string, string> {
  if (json === undefined || json === '') return {};
  try {
    const value = JSON.parse(json) as unknown;
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.values(value).every((v) => typeof v === 'string')
    )
      return value as Record<string, string>;
  } catch {
    // fall through
  }
  fail('WARDEN_REMOTE_HEADERS is not a JSON object of strings');
}

async function main(): Promise<void> {
  const target = process.argv[2];
  if (target === undefined || process.argv.length !== 3) fail('usage: mcp-remote-bridge URL');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    fail(`not a URL: ${target}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`not an http(s) URL: ${target}`);

  // The server's credentials (servers.<name>.headers), handed over by warden in the environment:
  // taken out of it at once, so nothing this process starts could inherit them.
  const headers = readHeaders(process.env['WARDEN_REMOTE_HEADERS']);
  delete process.env['WARDEN_REMOTE_HEADERS'];
  const pin = process.env['WARDEN_REMOTE_TLS_SPKI_SHA256'];
  if (pin !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(pin)) fail('WARDEN_REMOTE_TLS_SPKI_SHA256 is not 64 lower-case hex digits');
    if (url.protocol !== 'https:') fail(`a TLS pin needs an https URL, not ${target}`);
    const proxy = process.env['HTTPS_PROXY'] ?? process.env['https_proxy'];
    const noProxy = process.env['NO_PROXY'] ?? process.env['no_proxy'] ?? '';
    // fetch (and so the SDK's transport) then connects only through the pinned connector. The
    // connector is an asset of its own beside this file, loaded only here: an unpinned server's
    // bridge does not load undici. Missing, the import fails and so does the bridge (fail closed).
    const { installPinnedDispatcher } = (await import(
      new URL('./mcp-remote-tls.mjs', import.meta.url).href
    )) as typeof RemoteTls;
    installPinnedDispatcher({
      pin,
      proxy: proxy === undefined || proxy === '' ? null : new URL(proxy),
      noProxy: noProxy
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== ''),
      onMismatch: (error) => {
        // Fail closed at once: nothing more goes to a server that is not the pinned one.
        process.stderr.write(`mcp-remote-bridge: ${error.message}\n`, () => process.exit(3));
      },
    });
  }
  const transport = new StreamableHTTPClientTransport(
    url,
    Object.keys(headers).length === 0 ? undefined : { requestInit: { headers } },
  );
  // The id of our client's initialize request: its answer carries the protocol version, which
  // the transport must send on every later request (the SDK's Client would tell it; we relay).
  let initializeId: string | number | null = null;
  transport.onmessage = (message) => {
    if (initializeId !== null && 'id' in message && message.id === initializeId && 'result' in message) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') transport.setProtocolVersion(version);
      initializeId = null;
    }
    write(message);
  };
  transport.onerror = (error) => process.stderr.write(`mcp-remote-bridge: ${error.message}\n`);
  transport.onclose = () => process.exit(0);
  await transport.start();

  const relay = (line: string): void => {
    if (line.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(line));
    } catch {
      process.stderr.write('mcp-remote-bridge: dropped a line that is not a JSON-RPC message\n');
      return;
    }
    if ('method' in message && message.method === 'initialize' && 'id' in message) initializeId = message.id;
    // Not awaited: a slow call must not hold up the ones behind it (the transport sends each
    // POST on its own and delivers answers through onmessage as they come).
    transport.send(message).catch((error: unknown) => {
      const detail = describeError(error);
      process.stderr.write(`mcp-remote-bridge: ${detail}\n`);
      if ('id' in message && 'method' in message) {
        write({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: UNREACHABLE, message: `the remote MCP server could not be reached: ${detail}`.slice(0, 1000) },
        });
      }
    });
  };
  // The one bounded line framing (line-framer.ts), as on every other newline-delimited stream.
  const framer = new LineFramer({
    maxLineBytes: MAX_LINE_BYTES,
    onLine: (line) => relay(line.toString('utf8')),
    onOversized: ({ bytes }) =>
      process.stderr.write(`mcp-remote-bridge: dropped a message of ${bytes} bytes (limit ${MAX_LINE_BYTES})\n`),
  });
  process.stdin.on('data', (chunk: Buffer) => framer.push(chunk));
  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  framer.end();
  await transport.close().catch(() => undefined);
  process.exit(0);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
