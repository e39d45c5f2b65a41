/**
 * The run summary: what the user reads when `warden run` ends, and its JSON form for scripts.
 */
import type { EndReason, EgressDenyReason, LimitKind } from '../core/events.js';
import { formatDuration } from '../core/units.js';

export interface DeniedTarget {
  readonly host: string;
  readonly port: number;
  readonly reason: EgressDenyReason;
  readonly count: number;
}

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
  readonly limits_hit: readonly LimitKind[];
  /** Git repositories the sandbox planted and warden moved out of git's reach (SBX-06). */
  readonly quarantined: readonly {
    readonly git_dir: string;
    readonly reason: string;
    readonly moved_to: string | null;
  }[];
  /** False when the post-run check stopped early (a very large tree): not every repository was checked. */
  readonly git_scan_complete: boolean;
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
  lines.push(`  limits hit: ${summary.limits_hit.length === 0 ? 'none' : summary.limits_hit.join(', ')}`);
  for (const repo of summary.quarantined) {
    const where =
      repo.moved_to === null
        ? 'COULD NOT be moved: do not run git there before checking it'
        : `moved to ${repo.moved_to}; check it before renaming it back`;
    lines.push(`  QUARANTINED git repository ${repo.git_dir}: ${repo.reason}; ${where}`);
  }
  if (!summary.git_scan_complete)
    lines.push(
      '  warning: the workspace is too large to check completely for git repositories the agent planted; check new .git directories before running git in them',
    );
  if (summary.error !== null) lines.push(`  error: ${summary.error}`);
  lines.push(`  audit: warden audit show ${summary.run_id}`);
  return lines.join('\n');
}
