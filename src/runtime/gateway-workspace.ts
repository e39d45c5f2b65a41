/**
 * The workspace of a gateway outside `warden run` (`warden gateway`, `warden tools ls`, `warden
 * client add`): resolved once, at start, against the current directory, to a real absolute path,
 * so that every server sandbox and every `${workspace}` gets the same absolute path.
 *
 * Without `--workspace` the current directory is used only when it looks like a project: a
 * desktop client starts its servers in `/`, the user's home or a temporary directory, and taking
 * one of those silently would hand a read-write server the whole home directory (or nothing the
 * user meant). Those are refused with the command that fixes it.
 */
import { tmpdir, userInfo } from 'node:os';
import { resolve, sep } from 'node:path';
import { isNeverWritable } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';
import { realPathOrSelf } from '../sandbox/index.js';
import { existingWorkspaceDirectory } from './plan.js';

/** Directories that are never a project when warden finds itself started in them. */
const TEMP_ROOTS = ['/tmp', '/var/tmp', '/dev/shm'];

export interface WorkspaceChoice {
  /** `--workspace` as given (relative to `cwd`), or undefined. */
  readonly given: string | undefined;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** How to fix a refusal, e.g. "warden gateway --stdio --workspace DIR". */
  readonly fix: string;
}

/** Resolves the workspace of a standalone gateway; throws WORKSPACE_INVALID with the fix. */
export function resolveGatewayWorkspace(choice: WorkspaceChoice): string {
  const explicit = choice.given !== undefined;
  const real = existingWorkspaceDirectory(resolve(choice.cwd, choice.given ?? '.'));
  const why = isNeverWritable(real)
    ? real === '/'
      ? 'the root directory'
      : 'a system directory'
    : explicit
      ? null
      : notAProject(real, choice.env);
  if (why === null) return real;
  // A system directory is never a workspace, even when asked for: servers may get it read-write (SBX-05).
  throw new WardenError(
    'WORKSPACE_INVALID',
    explicit
      ? `the workspace cannot be ${real}: it is ${why}`
      : `no --workspace given, and the current directory ${real} is ${why}, not a project (desktop clients start their servers there)`,
    { hint: `name the project directory: ${choice.fix}` },
  );
}

/** Why `dir` (a real path) is not taken as a workspace silently, or null when it may be. */
export function notAProject(dir: string, env: NodeJS.ProcessEnv): string | null {
  for (const home of homes(env)) {
    if (dir === home) return 'your home directory';
    if (home.startsWith(dir === '/' ? '/' : `${dir}${sep}`)) return 'a parent of your home directory';
  }
  const temps = new Set(TEMP_ROOTS.map(realPathOrSelf));
  temps.add(realPathOrSelf(tmpdir()));
  if (temps.has(dir)) return 'a temporary directory';
  return null;
}

/** $HOME and the home directory of the user in /etc/passwd (a client may not pass HOME). */
function homes(env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  if (env.HOME !== undefined && env.HOME.startsWith('/')) found.push(realPathOrSelf(env.HOME));
  try {
    const home = userInfo().homedir;
    if (home.startsWith('/')) found.push(realPathOrSelf(home));
  } catch {
    // no passwd entry for this uid: $HOME is all there is
  }
  // '/' as a home (some service users) is already refused as a system directory.
  return found.filter((h) => h !== '/');
}
