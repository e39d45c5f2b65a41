/**
 * Start-up checks of path conditions that need no server (GW-12):
 *
 * - condition directories must be real paths: the gateway compares the real paths of arguments,
 *   so a directory written through a symlink would never match (an allow that never holds, a
 *   deny that never applies). A symlink there may also have been planted by an earlier agent in
 *   the workspace; warden does not follow it for you.
 * - a server whose sandbox sees more than its grants' conditions allow is warned about: the
 *   sandbox is what the kernel enforces; the conditions are warden's check before each call, with
 *   the limits docs/threat-model.md gives (a server that re-resolves later, races).
 */
import type { ConditionalGrant } from '../policy/index.js';
import { comparablePath } from '../policy/index.js';
import type { CallPathResolver } from './resolve-path.js';

/** Condition directories that are not real paths, each as a line naming the grant and the fix. */
export function conditionDirProblems(grants: readonly ConditionalGrant[], resolver: CallPathResolver): string[] {
  const problems: string[] = [];
  for (const grant of grants) {
    for (const dir of grant.dirs) {
      const resolved = resolver.resolve(dir);
      if (!resolved.ok) problems.push(`${grant.id}: condition directory ${dir}: ${resolved.reason}`);
      else if (comparablePath(resolved.value.path) !== dir)
        problems.push(
          `${grant.id}: condition directory ${dir} goes through a symlink; its real path is ${resolved.value.path}`,
        );
    }
  }
  return problems;
}

/** Whether `path` is `dir` or inside it (both comparable, normalised). */
export function within(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

/**
 * One warning per server whose sandbox sees a path (workspace, read-only or writable) that the
 * directories of its allow grants' path conditions do not cover. Servers with no path condition
 * in an allow grant get none: nothing there claims to confine them.
 */
export function serverViewWarnings(
  grants: readonly ConditionalGrant[],
  views: Readonly<Record<string, readonly string[]>>,
): string[] {
  const warnings: string[] = [];
  for (const [server, seen] of Object.entries(views)) {
    const allowed = grants
      .filter((g) => g.server === server && g.effect === 'permit' && Object.values(g.conditions).includes('path'))
      .flatMap((g) => g.dirs);
    if (allowed.length === 0) continue;
    const beyond = seen.map(comparablePath).filter((view) => !allowed.some((dir) => within(view, dir)));
    if (beyond.length === 0) continue;
    const shown = beyond.slice(0, 3).join(', ') + (beyond.length > 3 ? `, … (${beyond.length} paths)` : '');
    warnings.push(
      `server '${server}' can see ${shown}, more than its grants' path conditions allow (${[...new Set(allowed)].slice(0, 3).join(', ')}). Warden checks each call's paths, but the server's sandbox is the boundary the kernel enforces: a server that resolves a path again later, or a race with the agent changing the workspace, reaches what the sandbox shows. To make the two agree, give the server only what its grants allow (servers.${server}.workspace and filesystem; see docs/threat-model.md, GW-12).`,
    );
  }
  return warnings;
}
