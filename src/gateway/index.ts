// The MCP gateway: one MCP server to agents, MCP clients to sandboxed upstreams, and the checks
// between (policy, argument validation, strict parsing, audit).
// Adding an export here is an API decision (design.md, convention 2).
export { ArgumentRedactor, ALWAYS_SENSITIVE } from './redact.js';
export { EXPOSED_NAME, NAME_SEPARATOR, exposedName } from './catalog.js';
export {
  Gateway,
  type GatewayOptions,
  type ToolGrant,
  type DefinitionReview,
  type UnavailableServer,
} from './gateway.js';
export type { ServerDefinitions, Verdict } from './definitions.js';
export { HttpEndpoint, type AuthResult, type Caller, type HttpEndpointOptions } from './http-endpoint.js';
export { RPC, RPC_CODES } from './errors.js';
export { definitionHash, PinStore, serverIdentity, type PinnedTool, type ServerPins } from './pins.js';
export type { GatewayScanner, ScanPolicy } from './scanning.js';
export { createSessionServer } from './session.js';
export { serveStdio } from './stdio-endpoint.js';
export type { LaunchUpstream, UpstreamDiagnosis, UpstreamProcess } from './upstream.js';
