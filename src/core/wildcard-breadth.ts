/**
 * The public-suffix rule for wildcard allow-list entries (NET-08): `*.co.uk` or `*.github.io`
 * would let anyone who registers a name there receive the agent's traffic. Separate from
 * host-pattern.ts because the suffix list is large: only config validation loads it, not the
 * proxy's hot path or a run without a config file.
 */
import { getPublicSuffix } from 'tldts';
import type { HostPattern } from './host-pattern.js';

/** Why a wildcard pattern is too broad, or null when it is fine (non-wildcards are always fine). */
export function wildcardBreadthProblem(pattern: HostPattern): string | null {
  if (pattern.kind !== 'wildcard') return null;
  const suffix = getPublicSuffix(pattern.host, { allowPrivateDomains: true });
  if (suffix === null || suffix === pattern.host) {
    return `'*.${pattern.host}' covers a whole public suffix (anyone can register under it); name the registrable domain, e.g. '*.example.${pattern.host}'`;
  }
  return null;
}
