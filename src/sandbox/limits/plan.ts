/**
 * Decides, per limit, what holds it in one sandbox: a cgroup (v1 or v2) for the whole sandbox
 * where the host offers one, else a kernel rlimit where one fits, else nothing — and whether the
 * run may go ahead (LimitsPolicy). Pure: it reads a LimitsProbe and changes nothing.
 *
 * The rlimit fallback (set by warden-init inside the sandbox, see rlimits.ts):
 * - memory → RLIMIT_DATA, per process. Not RLIMIT_AS: V8 reserves address space far beyond what
 *   it uses (WebAssembly reserves ~10 GiB per memory), so `new WebAssembly.Memory()` fails under
 *   any RLIMIT_AS below ~16 GiB (measured with Node 20 here), and with it Node tools built on
 *   WebAssembly. RLIMIT_DATA counts writable private memory only: heaps (malloc, V8, Python) stop
 *   at the limit, reservations do not count. Each process has its own budget, and tmpfs files,
 *   shared and file-backed memory (memfd, MAP_SHARED) are not counted at all.
 * - pids → RLIMIT_NPROC, set inside the sandbox's own user namespace, where the kernel counts the
 *   sandbox's processes and threads only (measured: 40 of the user's processes outside did not
 *   lower what a sandbox with `nproc 20` could fork). That holds for the whole sandbox.
 * - cpu → nothing. RLIMIT_CPU caps the CPU seconds of each process and then kills it; it is not
 *   a share of the CPUs, and over a run it would only ever stop a busy multi-threaded process.
 * Neither rlimit reports being reached: the allocation or the fork fails inside the sandbox.
 */
import type { LimitEnforcement, LimitsPolicy, ResourceLimitName } from '../../core/limits.js';
import { WardenError } from '../../core/errors.js';
import { CGROUP_CONTROLLERS, type CgroupController } from '../host.js';
import type { ResourceLimits } from '../spec.js';
import type { LimitsProbe } from './probe.js';

/** What one sandbox's limits will be made of. */
export interface LimitsPlan {
  readonly enforcement: readonly LimitEnforcement[];
  /** v1 controllers in force, with the parent directory their run group goes in. */
  readonly v1: ReadonlyMap<CgroupController, string>;
  /** v2 controllers in force (one run group under `parent`), or null. */
  readonly v2: { readonly parent: string; readonly controllers: readonly CgroupController[] } | null;
  /** rlimits warden-init sets in the sandbox (null: not set). */
  readonly rlimits: { readonly dataBytes: number | null; readonly nproc: number | null };
}

export const RLIMIT_NOTES = {
  memory:
    'RLIMIT_DATA: each process may use this much writable memory; tmpfs files and shared memory are not counted, and reaching it is not reported',
  pids: "RLIMIT_NPROC in the sandbox's own user namespace; reaching it is not reported",
} as const;

/**
 * Plans the limits. Throws LIMITS_UNAVAILABLE, naming each limit and why, when `policy` is
 * `required` and a limit cannot be held for the whole sandbox.
 */
export function planLimits(probe: LimitsProbe, limits: ResourceLimits, policy: LimitsPolicy): LimitsPlan {
  const enforcement: LimitEnforcement[] = [];
  const v1 = new Map<CgroupController, string>();
  const v2: CgroupController[] = [];
  let dataBytes: number | null = null;
  let nproc: number | null = null;
  for (const limit of CGROUP_CONTROLLERS) {
    const value = valueOf(limits, limit);
    if (value === null) continue;
    const place = probe.v1[limit];
    if ('parent' in place) {
      v1.set(limit, place.parent);
      enforcement.push({ limit, value, by: 'cgroup-v1', scope: 'sandbox' });
    } else if (probe.v2.usable && probe.v2.controllers.includes(limit)) {
      v2.push(limit);
      enforcement.push({ limit, value, by: 'cgroup-v2', scope: 'sandbox' });
    } else if (limit === 'memory') {
      dataBytes = value;
      enforcement.push({ limit, value, by: 'rlimit', scope: 'process', note: RLIMIT_NOTES.memory });
    } else if (limit === 'pids') {
      nproc = value;
      enforcement.push({ limit, value, by: 'rlimit', scope: 'sandbox', note: RLIMIT_NOTES.pids });
    } else {
      enforcement.push({ limit, value, by: 'none', scope: 'none', note: noCgroupReason(probe, limit) });
    }
  }
  const partial = enforcement.filter((e) => e.scope !== 'sandbox');
  if (policy === 'required' && partial.length > 0) throw limitsUnavailable(probe, partial);
  return {
    enforcement,
    v1,
    v2: v2.length > 0 && probe.v2.usable ? { parent: probe.v2.parent, controllers: v2 } : null,
    rlimits: { dataBytes, nproc },
  };
}

function valueOf(limits: ResourceLimits, limit: ResourceLimitName): number | null {
  switch (limit) {
    case 'memory':
      return limits.memoryBytes;
    case 'pids':
      return limits.pids;
    case 'cpu':
      return limits.cpu;
  }
}

/** Why no cgroup holds `controller` for this user, in the words of the hierarchy the host uses. */
export function noCgroupReason(probe: LimitsProbe, controller: CgroupController): string {
  const v1 = probe.v1[controller];
  if (probe.layout.version === 'v1' && 'reason' in v1) return `no cgroup ${controller} controller: ${v1.reason}`;
  if (!probe.v2.usable) return `no cgroup ${controller} controller: ${probe.v2.reason}`;
  return `no cgroup ${controller} controller: cgroup v2 does not offer it in ${probe.v2.parent}`;
}

/**
 * What to do about missing limits, for this user on this host; with `orAccept`, also how to run
 * anyway (the refusal's hint: under best-effort, runs go ahead already).
 */
export function limitsFix(probe: LimitsProbe, orAccept = true): string {
  const accept = orAccept
    ? '; or pass --accept-missing-limits (or set sandbox.limits: best-effort) to run with what the host allows'
    : '';
  if (probe.uid === 0) {
    return probe.layout.version === 'none'
      ? `mount the cgroup hierarchy (cgroup v2 at /sys/fs/cgroup)${accept}`
      : `check that the cgroup controllers are mounted and writable (\`warden doctor\`)${accept}`;
  }
  return probe.layout.version === 'v1'
    ? `ask an admin to run \`sudo scripts/setup.sh --delegate-user $(id -un)\`${accept}`
    : `start warden under \`systemd-run --user --scope -p Delegate=yes -- warden …\` (systemd gives it a cgroup of its own)${accept}`;
}

function limitsUnavailable(probe: LimitsProbe, partial: readonly LimitEnforcement[]): WardenError {
  const what = partial.map((e) =>
    e.by === 'rlimit'
      ? `${e.limit} (only per process, through an rlimit: ${noCgroupReason(probe, e.limit)})`
      : `${e.limit} (${e.note ?? 'unavailable'})`,
  );
  return new WardenError(
    'LIMITS_UNAVAILABLE',
    `resource limits cannot be enforced for the whole sandbox: ${what.join('; ')}`,
    { hint: limitsFix(probe) },
  );
}
