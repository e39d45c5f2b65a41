/**
 * Grants that name tools a server does not have. Such a grant grants nothing, silently: a typo
 * (`read_fle`), a tool the server renamed, a glob that matches nothing. The policy cannot know
 * (the names are the servers'); once the servers are started, `warden tools ls` and `warden
 * config check --servers` compare and warn.
 */
import type { McpPolicyConfig } from '../core/config.js';

/** One name in a grant that matches no tool of its server. */
export interface UnmatchedGrantName {
  readonly list: 'allow' | 'deny';
  /** Index of the grant in `mcp.allow` / `mcp.deny`. */
  readonly index: number;
  readonly server: string;
  readonly name: string;
}

/**
 * The tool names (or globs) of a profile's grants that match none of the tools its servers
 * listed. `tools` maps each started server to its tools' upstream names; servers not in it (not
 * started) are not judged.
 */
export function unmatchedGrantNames(
  mcp: Pick<McpPolicyConfig, 'allow' | 'deny'>,
  tools: ReadonlyMap<string, readonly string[]>,
): UnmatchedGrantName[] {
  const out: UnmatchedGrantName[] = [];
  for (const list of ['allow', 'deny'] as const) {
    mcp[list].forEach((grant, index) => {
      const known = tools.get(grant.server);
      if (known === undefined) return;
      for (const name of grant.tools) {
        const matches = globMatcher(name);
        if (!known.some(matches)) out.push({ list, index, server: grant.server, name });
      }
    });
  }
  return out;
}

/** Human lines for `unmatchedGrantNames`, naming the config path and what the server does have. */
export function describeUnmatched(
  profile: string,
  unmatched: readonly UnmatchedGrantName[],
  tools: ReadonlyMap<string, readonly string[]>,
): string[] {
  return unmatched.map((u) => {
    const known = [...(tools.get(u.server) ?? [])].sort();
    const shown = known.length > 12 ? `${known.slice(0, 12).join(', ')}, … (${known.length})` : known.join(', ');
    const kind = u.name.includes('*') ? 'matches no tool' : 'is not a tool';
    return `profiles.${profile}.mcp.${u.list}[${u.index}]: '${u.name}' ${kind} of server '${u.server}', so it ${u.list === 'allow' ? 'grants' : 'denies'} nothing (its tools: ${shown || 'none'})`;
  });
}

/** `*` matches any run of characters, as in grants (policy/compile.ts). */
function globMatcher(pattern: string): (name: string) => boolean {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`, 's');
  return (name) => regex.test(name);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
