/**
 * The one recipe for a confined process: the agent of `warden run` and every MCP server the
 * gateway starts are assembled here, so a protection added once holds for every sandbox. A
 * confined process gets its own run directory, its own egress proxy with its own allow-list and
 * a fresh credential, an environment built from nothing but what it was given plus the proxy
 * wiring, and a sandbox from which warden's state, the runtime root and its own run directory
 * are never visible. `release()` tears all of it down, in one place.
 *
 * What the profile hides from the agent (its filesystem.deny) is hidden from every confined
 * process the same way (GW-11), and a process whose own paths would show a hidden path is refused
 * before anything is created.
 *
 * The recipe has two steps so that callers can overlap work with the sandbox's start (see
 * docs/architecture.md, "Life of a warden run"): `confine()` creates the run directory and
 * starts the proxy (not awaited); `start()` launches the sandbox, optionally after a promise
 * (bwrap gets its arguments, and the command can run, only once it settles).
 */
import { join } from 'node:path';
import { WardenError } from '../core/errors.js';
import type { AgentIdentity, EventSink } from '../core/events.js';
import { newSecret } from '../core/ids.js';
import { EgressPolicy, EgressProxy, type EgressPolicyOwner, type EgressStats } from '../egress/index.js';
import {
  isInside,
  realPathOrSelf,
  SANDBOX_LIB,
  startSandbox,
  type PortForward,
  type ResourceLimits,
  type SandboxHandle,
  type SandboxHost,
  type SandboxSpec,
  type SandboxUser,
} from '../sandbox/index.js';
import { createRunDir, removeRunDir, type RunDir } from './run-dir.js';
import { buildSandboxEnv, EGRESS_PORT } from './sandbox-env.js';

/** What every confined process started by one warden process shares. */
export interface ConfineContext {
  readonly sink: EventSink;
  readonly host: SandboxHost;
  /** The sandbox user when warden is root; null when warden runs as an ordinary user. */
  readonly sandboxUser: SandboxUser | null;
  readonly runtimeRoot: string;
  /** Host paths no sandbox may ever see (the state dir, the runtime root); each run dir is added. */
  readonly neverVisible: readonly string[];
  /**
   * What the profile hides from the agent (its filesystem.deny, real paths), hidden from every
   * confined process of this run or gateway, and the config field it comes from (for errors).
   */
  readonly profileDeny: { readonly paths: readonly string[]; readonly field: string };
}

/** The config fields a confined process's paths come from, named in errors. */
export interface ConfinedFields {
  readonly workspace: string;
  readonly readOnly: string;
  readonly writable: string;
}

/** One confined process: every field resolved and checked by the caller (real, absolute paths). */
export interface ConfinedSpec {
  /** Names the run directory and the cgroups: the run id, or `<run>.<server>.<n>` for a server. */
  readonly id: string;
  /** Who the proxy records egress for, and the audit run it belongs to (WARDEN_RUN_ID inside). */
  readonly agent: AgentIdentity;
  readonly command: readonly string[];
  /** Working directory inside the sandbox. */
  readonly cwd: string;
  /** Bound read-write at its own path; null for none. */
  readonly workspace: string | null;
  readonly readOnly: readonly string[];
  readonly writable: readonly string[];
  readonly deny: readonly string[];
  /** A persistent home bound at /home/agent (the agent of a `home: persistent` profile); null: a fresh tmpfs. */
  readonly home: string | null;
  /** A package from warden's store bound read-only at /run/warden/pkg (a catalog-pinned server). */
  readonly package?: string;
  /** Variables given to the process (the proxy wiring, PATH and HOME are warden's). */
  readonly env: Readonly<Record<string, string>>;
  /** The egress allow-list of this process's own proxy. */
  readonly networkAllow: readonly string[];
  /** Whose list that is, named in the proxy's refusals (default: the profile's network.allow). */
  readonly networkOwner?: EgressPolicyOwner;
  readonly limits: ResourceLimits;
  /** Run without the cgroup controllers that are unavailable (see SandboxSpec). */
  readonly acceptMissingLimits: boolean;
  /** The process's stdio (see SandboxSpec.stdio; runtime/terminal.ts chooses it for `warden run`). */
  readonly stdio: SandboxSpec['stdio'];
  /** Where the workspace and the read-only and writable paths come from; `readOnlyFields` names single entries. */
  readonly fields: ConfinedFields;
  /** Fields of individual read-only paths that do not come from `fields.readOnly` (e.g. a server's read-only workspace). */
  readonly readOnlyFields?: ReadonlyMap<string, string>;
}

/** What a caller adds when it starts the sandbox (e.g. the run's gateway, which needs the run directory first). */
export interface ConfinedExtras {
  readonly env?: Readonly<Record<string, string>>;
  readonly forwards?: readonly PortForward[];
  /** Hand bwrap its arguments only once this settles (a rejection aborts the sandbox). */
  readonly launchAfter?: Promise<unknown>;
}

/** A confined process being set up, running, or released. */
export interface Confinement {
  readonly runDir: RunDir;
  /** The proxy credential given to the process (so that text it writes can be redacted before it is stored). */
  readonly credential: string;
  /** Settles once the proxy listens; rejects when it cannot (the sandbox is then never launched). */
  readonly proxyListening: Promise<void>;
  /** The sandbox, once `start` ran. */
  readonly sandbox: SandboxHandle | null;
  /** Launches the sandbox (once); it is launched only after the proxy listens and `extras.launchAfter`. */
  start(extras?: ConfinedExtras): SandboxHandle;
  /** What the proxy saw so far (and after release: in total). */
  egressStats(): EgressStats;
  /**
   * Kills what is left of the sandbox, removes its cgroups, closes the proxy and removes the run
   * directory. Idempotent; resolves with what the sandbox's cleanup found. The post-run check of
   * what the sandbox wrote (sandbox `checkAfterRun` over `sandbox.baseline.roots`) is the
   * caller's, once everything that could write those roots has stopped.
   */
  release(): Promise<{ readonly leftoverProcesses: number }>;
}

/**
 * Step 1 of the recipe: the run directory and the egress proxy (which starts listening in the
 * background). Call `start()` on the result to launch the sandbox, and `release()` in every case.
 */
export function confine(spec: ConfinedSpec, ctx: ConfineContext): Confinement {
  refuseExposedPaths(spec, ctx);
  const deny = [...new Set([...spec.deny, ...ctx.profileDeny.paths])];
  const runDir = createRunDir(ctx.runtimeRoot, spec.id, ctx.host.wardenUid, ctx.sandboxUser?.gid ?? null, spec.agent);
  const credential = newSecret();
  const socketPath = join(runDir.sockDir, 'egress.sock');
  let proxy: EgressProxy;
  try {
    proxy = new EgressProxy({
      socketPath,
      socketMode: 0o660,
      ...(ctx.sandboxUser === null ? {} : { socketOwner: { uid: 0, gid: ctx.sandboxUser.gid } }),
      policy: new EgressPolicy(spec.networkAllow, spec.networkOwner),
      credential,
      sink: ctx.sink,
      runId: spec.agent.run_id,
      agent: spec.agent,
    });
  } catch (error) {
    removeRunDir(runDir);
    throw error;
  }
  const proxyListening = proxy.start();
  proxyListening.catch(() => undefined);

  let sandbox: SandboxHandle | null = null;
  let released: Promise<{ leftoverProcesses: number }> | null = null;
  return {
    runDir,
    credential,
    proxyListening,
    get sandbox() {
      return sandbox;
    },
    start(extras = {}) {
      if (sandbox !== null || released !== null) throw new TypeError('a confinement starts once, before release');
      const env = buildSandboxEnv({
        runId: spec.agent.run_id,
        credential,
        ca: ctx.host.ca.env,
        nodePreload: ctx.host.lib.nodePreload === null ? null : join(SANDBOX_LIB, 'node-proxy-preload.mjs'),
        extra: { ...spec.env, ...(extras.env ?? {}) },
      });
      const launchAfter =
        extras.launchAfter === undefined ? proxyListening : Promise.all([proxyListening, extras.launchAfter]);
      // Handled here: should startSandbox throw before it takes this promise on (e.g. the run's
      // cgroups cannot be made), a failed proxy start must not become an unhandled rejection.
      launchAfter.catch(() => undefined);
      sandbox = startSandbox(
        {
          runId: spec.id,
          command: spec.command,
          cwd: spec.cwd,
          workspace: spec.workspace,
          readOnly: spec.readOnly,
          writable: spec.writable,
          deny,
          neverVisible: [...ctx.neverVisible, runDir.path],
          home: spec.home,
          ...(spec.package === undefined ? {} : { package: spec.package }),
          env,
          limits: spec.limits,
          acceptMissingLimits: spec.acceptMissingLimits,
          forwards: [{ port: EGRESS_PORT, socketPath }, ...(extras.forwards ?? [])],
          runDir: runDir.path,
          user: ctx.sandboxUser,
          stdio: spec.stdio,
        },
        ctx.host,
        { launchAfter },
      );
      return sandbox;
    },
    egressStats: () => proxy.stats(),
    release() {
      released ??= (async () => {
        let cleanup = { leftoverProcesses: 0 };
        try {
          if (sandbox !== null) {
            await sandbox.kill();
            cleanup = await sandbox.cleanup();
          }
        } finally {
          try {
            // Only once its start has settled: a start still pending would listen on a socket in
            // the directory removed below (libuv reports that as EACCES). That race, after a
            // sandbox that failed to start, crashed warden for an ordinary user without cgroups.
            await proxyListening.catch(() => undefined);
            await proxy.close();
          } finally {
            removeRunDir(runDir);
          }
        }
        return cleanup;
      })();
      return released;
    },
  };
}

/**
 * Refuses a confined process whose own paths would show what must stay hidden (GW-11, SBX-04): a
 * workspace, read-only or writable path that is, or lies inside, a path the profile denies, or
 * warden's state or runtime directory. A path that merely contains a hidden one is fine: the
 * hiding mount covers it there. Both sides are real paths, so another spelling or a symlink to
 * the same place is caught too.
 */
export function refuseExposedPaths(spec: ConfinedSpec, ctx: ConfineContext): void {
  const hidden = [
    ...ctx.profileDeny.paths.map((path) => ({ path, what: `denied by ${ctx.profileDeny.field}` })),
    ...ctx.neverVisible.map((path) => ({
      path: realPathOrSelf(path),
      what: "warden's own state, which no sandbox may see",
    })),
  ];
  const roots = [
    ...(spec.workspace === null ? [] : [{ path: spec.workspace, field: spec.fields.workspace }]),
    ...spec.readOnly.map((path) => ({ path, field: spec.readOnlyFields?.get(path) ?? spec.fields.readOnly })),
    ...spec.writable.map((path) => ({ path, field: spec.fields.writable })),
  ];
  for (const root of roots) {
    const covering = hidden.find((h) => isInside(root.path, h.path));
    if (covering === undefined) continue;
    const where = root.path === covering.path ? 'is' : `lies inside ${covering.path}, which is`;
    throw new WardenError('PATH_POLICY', `${root.field}: ${root.path} ${where} ${covering.what}`, {
      hint: `remove ${root.path} from ${root.field}, or stop hiding it`,
    });
  }
}
