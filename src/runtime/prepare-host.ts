/**
 * Everything `warden run` needs from the host, checked before anything starts. A host that
 * cannot isolate fails closed with a message that names what is missing and the command that
 * fixes it (SBX-18); warden never runs a command unsandboxed.
 */
import { realpathSync } from 'node:fs';
import type { WardenConfig } from '../core/config.js';
import { WardenError } from '../core/errors.js';
import type { LimitsPolicy } from '../core/limits.js';
import {
  LimitsHost,
  ensureLibDir,
  findBinary,
  hostCaBundle,
  lookupUser,
  userNamespacesEnabled,
  type SandboxHost,
  type SandboxUser,
} from '../sandbox/index.js';
import { ensureRuntimeRoot, recoverAbandonedRuns, runtimeRoot, type RecoveredRun } from './run-dir.js';

export interface PreparedHost {
  readonly host: SandboxHost;
  readonly sandboxUser: SandboxUser | null;
  readonly runtimeRoot: string;
  /** Sandboxes of dead wardens this start cleaned up: the caller records them (recordRecoveredRuns). */
  readonly recovered: readonly RecoveredRun[];
}

const SETUP_HINT = 'run scripts/setup.sh (as root) or `warden doctor` to see what is missing';

/**
 * Whether sandboxes may run without a limit the host cannot hold for the whole sandbox: the
 * config's `sandbox.limits`, else `required` as root (the sandbox is another user, on a host
 * warden administers) and `best-effort` as an ordinary user (the sandbox runs as that user, who
 * could run the agent unlimited anyway, and usually has no cgroup of their own). `--accept-missing-limits` makes it best-effort.
 */
export function limitsPolicy(config: WardenConfig, uid: number, acceptMissingLimits = false): LimitsPolicy {
  if (acceptMissingLimits) return 'best-effort';
  return config.sandbox.limits ?? (uid === 0 ? 'required' : 'best-effort');
}

/** Checks the host and prepares the runtime directory; throws SANDBOX_UNAVAILABLE when it cannot isolate. */
export async function prepareHost(
  config: WardenConfig,
  assetsDir: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { readonly acceptMissingLimits?: boolean } = {},
): Promise<PreparedHost> {
  const uid = process.getuid?.() ?? -1;
  if (uid < 0) throw new WardenError('SANDBOX_UNAVAILABLE', 'warden needs Linux', { hint: 'run warden on Linux' });

  const bwrapPath = findBinary('bwrap', env.WARDEN_BWRAP);
  if (bwrapPath === null) {
    throw new WardenError(
      'SANDBOX_UNAVAILABLE',
      `bubblewrap (bwrap) ${env.WARDEN_BWRAP ? `not found at ${env.WARDEN_BWRAP}` : 'is not installed'}; refusing to run unsandboxed`,
      { hint: `apt-get install bubblewrap, or ${SETUP_HINT}` },
    );
  }
  const userns = userNamespacesEnabled();
  if (!userns.enabled) {
    throw new WardenError(
      'SANDBOX_UNAVAILABLE',
      `unprivileged user namespaces are disabled (${userns.detail}); refusing to run unsandboxed`,
      { hint: 'enable them (e.g. sysctl -w user.max_user_namespaces=15000) or run `warden doctor`' },
    );
  }

  let sandboxUser: SandboxUser | null = null;
  if (uid === 0) {
    sandboxUser = lookupUser(config.sandbox.user);
    if (sandboxUser === null) {
      throw new WardenError(
        'SANDBOX_UNAVAILABLE',
        `the sandbox user '${config.sandbox.user}' does not exist; warden will not run a sandbox as root`,
        { hint: SETUP_HINT },
      );
    }
    if (sandboxUser.uid === 0 || sandboxUser.gid === 0) {
      throw new WardenError('SANDBOX_UNAVAILABLE', `the sandbox user '${config.sandbox.user}' has uid or gid 0`, {
        hint: 'use an unprivileged system user (scripts/setup.sh creates warden-sandbox)',
      });
    }
  }

  const root = runtimeRoot(uid, env);
  ensureRuntimeRoot(root, uid);
  const recovered = await recoverAbandonedRuns(root);
  const lib = ensureLibDir(root, assetsDir);
  // The native init forwards the proxy port itself; only the fallback shell init needs socat,
  // and it must be under /usr: only /usr is visible inside, where the forwarder runs.
  if (lib.wardenInit === null && findBinary('socat') === null) {
    throw new WardenError(
      'SANDBOX_UNAVAILABLE',
      'socat is not installed and warden-init was not built; the sandbox would have no way to reach the egress proxy',
      {
        hint: `apt-get install socat (or build warden-init with npm run build and a C compiler), or ${SETUP_HINT}`,
      },
    );
  }
  return {
    host: {
      bwrapPath: realpathSync(bwrapPath),
      wardenUid: uid,
      limits: LimitsHost.probe(uid, limitsPolicy(config, uid, options.acceptMissingLimits)),
      lib,
      ca: hostCaBundle(env, root, sandboxUser?.uid ?? uid),
    },
    sandboxUser,
    runtimeRoot: root,
    recovered,
  };
}
