/**
 * Idmapped writable roots: how warden, running as root, lets its unprivileged sandbox user work in a
 * directory that belongs to someone else (root's own checkout in CI, a user's repository under sudo)
 * without changing a single permission on the host.
 *
 * When a writable root (the workspace, a `writable` entry, a read-write MCP server's workspace) is
 * not owned by the sandbox user, the launch chain starts with the native helper `warden-idmap`
 * (src/sandbox/native/warden-idmap.c), as root: in a private mount namespace it clones each writable
 * root and makes the clone an idmapped mount that shows the directory's owner as the sandbox user,
 * attaches it at `<run dir>/idmap/<i>` (reachable by the sandbox user even when the root lies under
 * the closed /root), drops to the sandbox user for good and execs the launcher. bwrap then binds each
 * root from its staging path. Inside, the sandbox user acts as the owner; on the host, what it creates
 * belongs to the owner, so git sees no "dubious ownership". Files of any other uid show as nobody
 * there and stay as writable as their mode makes them for others.
 *
 * Cost: one stat per writable root on every run as root; the helper (a fork for the user namespace,
 * a mount namespace, one clone per root) only where a root needs it. See docs/architecture.md.
 */
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { WardenError } from '../core/errors.js';
import type { MountOp } from './fs-plan.js';
import type { SandboxUser } from './spec.js';

/** What startSandbox needs to launch through the helper. */
export interface IdmapLaunch {
  /** The roots, in the order staged: root i is bound from `<stage>/i`. */
  readonly roots: readonly string[];
  /** Where the helper attaches the clones (inside its private mount namespace only). */
  readonly stage: string;
  /** The helper's command line, ending with `command` (the launcher's), which it execs as the sandbox user. */
  argv(command: readonly string[]): string[];
  /** The path bwrap (and the launcher) reaches `path` by: through the staged clone of the root it lies in. */
  source(path: string): string;
  /** The host path of a staging path (for error messages); the path itself when it is none. */
  hostPath(path: string): string;
}

/**
 * Plans the idmapped launch for a sandbox, or returns null when none is needed: warden is not root
 * (`user` null: the sandbox is warden's own user), the helper was not built, or every writable root
 * already belongs to the sandbox user. When one root needs it, every writable root is staged (those
 * the sandbox user owns as plain clones), so a root nested in another, or lying under /root, is
 * reached the same way. Creates the staging directories under `runDir`.
 */
export function planIdmap(
  writableRoots: readonly string[],
  user: SandboxUser | null,
  helper: string | null,
  runDir: string,
): IdmapLaunch | null {
  if (user === null || helper === null || writableRoots.length === 0) return null;
  const roots = [...new Set(writableRoots)];
  if (roots.every((root) => ownerOf(root) === user.uid)) return null;
  const stage = join(runDir, 'idmap');
  mkdirSync(stage, { mode: 0o755 });
  roots.forEach((_, i) => mkdirSync(join(stage, String(i)), { mode: 0o755 }));
  // Deepest root first when looking a path up, so a path in a nested root goes through that root's clone.
  const byDepth = roots.map((root, i) => ({ root, staged: join(stage, String(i)) }));
  byDepth.sort((a, b) => b.root.length - a.root.length);
  return {
    roots,
    stage,
    argv: (command) => [helper, String(user.uid), String(user.gid), stage, ...roots, '--', ...command],
    source(path) {
      for (const { root, staged } of byDepth) {
        if (path === root) return staged;
        const rel = relative(root, path);
        if (rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep)) return join(staged, rel);
      }
      return path;
    },
    hostPath(path) {
      for (const { root, staged } of byDepth) {
        if (path === staged) return root;
        if (path.startsWith(`${staged}/`)) return join(root, path.slice(staged.length + 1));
      }
      return path;
    },
  };
}

/** The plan with every bind source inside a staged root read from its clone (destinations unchanged). */
export function stageMountOps(ops: readonly MountOp[], idmap: IdmapLaunch): MountOp[] {
  return ops.map((op) =>
    op.op === 'bind' || op.op === 'ro-bind' || op.op === 'ro-bind-try' ? { ...op, src: idmap.source(op.src) } : op,
  );
}

/**
 * The WORKSPACE_INVALID error for a writable root the launcher found it cannot write (`reported`,
 * a staging path when idmapped), naming why and a fix that works on a stock Debian host.
 * `setupText` is what the helper said on stderr (a refused idmapped mount names its cause there).
 */
export function explainNotWritable(
  reported: string,
  user: SandboxUser | null,
  idmap: IdmapLaunch | null,
  setupText: string,
): WardenError {
  const path = idmap?.hostPath(reported) ?? reported;
  let st: Stats | null = null;
  try {
    st = statSync(path);
  } catch {
    // reported below as not a directory
  }
  if (st === null || !st.isDirectory())
    return invalid(`${path} is not a directory`, 'check the path: it must be an existing directory');
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  const chmod = `\`chmod u+w ${path}\``;
  if (user === null) {
    const me = process.getuid?.() ?? -1;
    if (st.uid === me) return invalid(`${path} is not writable by you, its owner (mode ${mode})`, chmod);
    return invalid(
      `${path} belongs to uid ${st.uid}; you (uid ${me}) cannot write to it (mode ${mode})`,
      "run warden as the directory's owner, or as root (the sandbox then acts as the directory's owner through an idmapped mount)",
    );
  }
  if (st.uid === user.uid)
    return invalid(`${path} is not writable by its owner, the sandbox user ${user.name} (mode ${mode})`, chmod);
  const chown = `\`chown -R ${user.name} ${path}\` (the agent's files then belong to ${user.name} on the host)`;
  const asOwner = st.uid === 0 ? '' : `, or run warden as the directory's owner (uid ${st.uid})`;
  const refused = setupText
    .split('\n')
    .find((line) => line.startsWith(`warden-idmap: the kernel refused an idmapped mount of ${path} `));
  if (refused !== undefined) {
    const cause = refused.slice(refused.lastIndexOf(': ') + 2);
    return invalid(
      `${path} belongs to uid ${st.uid}; the sandbox user ${user.name} (uid ${user.uid}) cannot write to it, and the kernel refused to map its owner onto that user with an idmapped mount (${cause}: ${refusalReason(cause)})`,
      `${chown}${asOwner}, or move it to a filesystem that supports idmapped mounts (Linux 5.12 or newer: ext4, xfs, btrfs; tmpfs from 6.3); \`warden doctor\` probes them`,
    );
  }
  if (idmap === null)
    return invalid(
      `${path} belongs to uid ${st.uid}, which the sandbox user ${user.name} (uid ${user.uid}) cannot write to, and warden-idmap (which maps the owner onto that user) was not built`,
      `rebuild warden with a C compiler (npm run build), or ${chown}${asOwner}`,
    );
  return invalid(
    `${path} is not writable by its owner (uid ${st.uid}, mode ${mode}), whom the sandbox user ${user.name} acts as there`,
    chmod,
  );
}

/** The error for an "E idmap-<what> PATH[: detail]" line of the helper. */
export function idmapHelperError(line: string): WardenError {
  const text = line.slice('E idmap-'.length);
  const what = text.slice(0, text.indexOf(' '));
  const rest = text.slice(what.length + 1);
  const path = rest.slice(0, rest.indexOf(': '));
  if (what === 'symlink')
    return invalid(
      `${path} now leads through a symlink (it did not when warden planned the run)`,
      'something changed the path while warden started (another run?); check it, then run again',
    );
  if (what === 'changed')
    return invalid(
      `${path} changed (another directory or owner) while warden started`,
      'something changed the path while warden started (another run?); check it, then run again',
    );
  return new WardenError('SANDBOX_START_FAILED', `cannot prepare the idmapped workspace (${what}): ${rest}`, {
    hint: 'run `warden doctor`',
  });
}

/** What a refused mount_setattr(MOUNT_ATTR_IDMAP) most likely means, by its errno. */
function refusalReason(cause: string): string {
  if (cause.startsWith('EPERM'))
    return 'not allowed here: warden runs in a user namespace (a rootless container?), where only the host may idmap, or a security policy forbids it';
  if (cause.startsWith('ENOSYS')) return 'this kernel has no idmapped mounts (Linux 5.12 or newer has)';
  return 'this filesystem does not support idmapped mounts (network filesystems, ramfs, older kernels)';
}

function invalid(message: string, hint: string): WardenError {
  return new WardenError('WORKSPACE_INVALID', message, { hint });
}

function ownerOf(path: string): number | null {
  try {
    return statSync(path).uid;
  } catch {
    return null; // the launcher reports it
  }
}
