// Preloaded (node --import) into the conformance CLI when it runs as the agent of a `warden run`.
//
// The run's gateway at $WARDEN_MCP_URL wants `Authorization: Bearer $WARDEN_MCP_TOKEN` on every
// request, and the conformance CLI has no option to send a header. Its MCP client (global
// fetch) and its raw DNS-rebinding probe (undici.request) both go through undici's global
// dispatcher, so this wraps that dispatcher: requests to the gateway's origin get the header,
// everything else passes untouched. Only the header is added; Host and Origin stay as the CLI
// sent them, so the DNS-rebinding scenario still tests the gateway's Host/Origin check (with a
// valid token, a foreign Host must be refused for that reason alone).
//
// The test copies this file next to the CLI's node_modules, where `undici` resolves.
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici';

const url = process.env.WARDEN_MCP_URL;
const token = process.env.WARDEN_MCP_TOKEN;
if (url === undefined || token === undefined)
  throw new Error(
    'run-token-preload: WARDEN_MCP_URL and WARDEN_MCP_TOKEN must be set (run under `warden run` with a profile that grants MCP servers)',
  );
const gatewayOrigin = new URL(url).origin;
const authorization = `Bearer ${token}`;

function withAuthorization(headers) {
  if (headers === undefined || headers === null) return { authorization };
  // undici passes headers as a flat [name, value, ...] array (fetch) or as an object (request).
  if (Array.isArray(headers)) return [...headers, 'authorization', authorization];
  if (typeof headers[Symbol.iterator] === 'function') return [...[...headers].flat(), 'authorization', authorization];
  return { ...headers, authorization };
}

const inner = getGlobalDispatcher();
setGlobalDispatcher(
  inner.compose((dispatch) => (options, handler) => {
    const origin = typeof options.origin === 'string' ? options.origin : options.origin?.origin;
    if (origin !== gatewayOrigin) return dispatch(options, handler);
    return dispatch({ ...options, headers: withAuthorization(options.headers) }, handler);
  }),
);
