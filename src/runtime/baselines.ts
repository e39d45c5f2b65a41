/**
 * One post-run check for several sandboxes that wrote the same directories: the agent's and its
 * MCP servers' (a read-write server writes for the agent). Each sandbox planned its own baseline
 * of protected entries when it started; merged, they cover every directory any of them could
 * write, from the earliest start, and an entry that any of them saw absent is judged as new — so
 * a server (or its restarted instance) that created it before another sandbox was planned cannot
 * make it look pre-existing.
 */
import type { HostExecBaseline } from '../sandbox/index.js';

/** The union of `baselines` for one walk, or null when there is none. */
export function mergeBaselines(baselines: readonly HostExecBaseline[]): HostExecBaseline | null {
  const first = baselines[0];
  if (first === undefined) return null;
  if (baselines.length === 1) return first;
  const absent = new Map<string, HostExecBaseline['absent'][number]>();
  for (const baseline of baselines)
    for (const entry of baseline.absent) if (!absent.has(entry.path)) absent.set(entry.path, entry);
  const unique = (lists: readonly (readonly string[])[]): string[] => [...new Set(lists.flat())];
  return {
    since: Math.min(...baselines.map((b) => b.since)),
    roots: unique(baselines.map((b) => b.roots)),
    existing: unique(baselines.map((b) => b.existing)).filter((path) => !absent.has(path)),
    absent: [...absent.values()],
    gitDirs: unique(baselines.map((b) => b.gitDirs)),
  };
}
