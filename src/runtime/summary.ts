/**
 * The run summary: what the user reads when `warden run` ends, and its JSON form for scripts.
 */
import type { EndReason, EgressDenyReason, LimitKind } from '../core/events.js';
import { describeLimits, type LimitEnforcement } from '../core/limits.js';
import { formatDuration } from '../core/units.js';
import { formatPostRun, type SummaryPostRun } from './post-run-report.js';

export interface DeniedTarget {
  readonly host: string;
  readonly port: number;
  readonly reason: EgressDenyReason;
  readonly count: number;
  /**
   * For `blocked_address` (a mirror or split-horizon name that resolved to a private or reserved
   * address, NET-07): that address, why it was refused, and the `network.allow` entry that would admit it.
   */
  readonly blocked?: { readonly address: string; readonly range: string; readonly allow_entry: string };
}

/** At most this many blocked_address lines: each names an entry to add, and the rest are in `audit show`. */
const MAX_BLOCKED_LINES = 3;

export interface RunSummary {
  readonly run_id: string;
  readonly agent: string;
  readonly profile: string;
  readonly command: readonly string[];
  readonly reason: EndReason;
  /** The exit code warden exits with. */
  readonly exit_code: number;
  /** The command's own exit code (before warden's limit codes), null if it never ran. */
  readonly command_exit_code: number | null;
  readonly signal: string | null;
  readonly duration_ms: number;
  readonly setup_ms: number | null;
  readonly egress: {
    readonly allowed: number;
    readonly denied: number;
    readonly denied_targets: readonly DeniedTarget[];
  };
  /** How memory, pids and cpu were held for the sandbox (cgroup v1/v2, rlimit, or not at all). */
  readonly limits: readonly LimitEnforcement[];
  /** The wall-clock timeout, which warden itself enforces (null: none). */
  readonly timeout_ms: number | null;
  readonly limits_hit: readonly LimitKind[];
  /**
   * What the post-run check found in the writable roots and did about it (SBX-06, SBX-20..22):
   * repositories and host-run files quarantined, setuid bits stripped, FIFOs removed.
   */
  readonly post_run: SummaryPostRun;
  readonly error: string | null;
}

const REASON_TEXT: Record<EndReason, string> = {
  exited: 'exited',
  signaled: 'was killed by a signal',
  timeout: 'was killed: wall-clock timeout',
  memory_limit: 'was killed: memory limit',
  warden_error: 'failed in warden',
  interrupted: 'was interrupted',
};

/** A short human summary, one fact per line. */
export function formatSummary(summary: RunSummary): string {
  const lines: string[] = [];
  const signal = summary.signal === null ? '' : ` (${summary.signal})`;
  lines.push(
    `warden: ${summary.run_id} ${REASON_TEXT[summary.reason]}${signal} with code ${summary.exit_code} after ${formatDuration(summary.duration_ms)}`,
  );
  const denied = summary.egress.denied_targets.map(
    (t) => `${t.host}:${t.port}${t.count > 1 ? ` ×${t.count}` : ''} (${t.reason})`,
  );
  lines.push(
    `  egress: ${summary.egress.allowed} allowed, ${summary.egress.denied} denied${denied.length > 0 ? `: ${denied.slice(0, 8).join(', ')}${denied.length > 8 ? ', …' : ''}` : ''}`,
  );
  // A name that resolved to a private or reserved address is refused even though it is allowed
  // (NET-07); the fix is not obvious from the name alone, so say which address and which entry.
  const blocked = summary.egress.denied_targets.filter((t) => t.blocked !== undefined);
  for (const t of blocked.slice(0, MAX_BLOCKED_LINES)) {
    const b = t.blocked;
    if (b === undefined) continue;
    lines.push(
      `  blocked: ${t.host}:${t.port} resolved to ${b.address} (${b.range}); to allow it add '${b.allow_entry}' to network.allow (or --allow-domain ${b.allow_entry}), only if you trust that address`,
    );
  }
  if (blocked.length > MAX_BLOCKED_LINES)
    lines.push(
      `  blocked: ${blocked.length - MAX_BLOCKED_LINES} more names resolved to non-public addresses (audit show)`,
    );
  // Which limits held, and plainly which did not, then which the kernel (or the timeout) enforced.
  const [held = '', ...missing] = describeLimits(summary.limits, summary.timeout_ms);
  lines.push(`  ${held}; hit: ${summary.limits_hit.length === 0 ? 'none' : summary.limits_hit.join(', ')}`);
  for (const line of missing) lines.push(`  ${line}`);
  lines.push(...formatPostRun(summary.post_run));
  if (summary.error !== null) lines.push(`  error: ${summary.error}`);
  lines.push(`  audit: warden audit show ${summary.run_id}`);
  return lines.join('\n');
}
