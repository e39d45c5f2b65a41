/**
 * Egress: the allow-list proxy every sandboxed agent's network traffic goes through.
 * `node-proxy-preload.ts` is a separate entry point (bundled by the build), not exported here.
 */
export { classifyAddress } from './address.js';
export type { AddressVerdict } from './address.js';
export { parseAuthority, MAX_AUTHORITY_LENGTH } from './authority.js';
export type { Authority } from './authority.js';
export { EventRateLimiter, PROXY_USER, ProxyCredential } from './credential.js';
export type { CredentialCheck } from './credential.js';
export {
  EgressPolicy,
  MAX_CANDIDATES,
  hostPort,
  reportableHost,
  systemResolver,
  type EgressPolicyOwner,
} from './policy.js';
export type {
  AddressDecision,
  BlockedAddress,
  EgressDenial,
  HostDecision,
  ResolvedAddress,
  Resolver,
} from './policy.js';
export { DEFAULT_EGRESS_LIMITS, DEFAULT_EGRESS_TIMEOUTS, EgressProxy } from './proxy.js';
export type {
  EgressDeniedTarget,
  EgressEventSink,
  EgressLimits,
  EgressProxyOptions,
  EgressStats,
  EgressTimeouts,
} from './proxy.js';
export { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './sni.js';
export type { ClientHelloResult } from './sni.js';
