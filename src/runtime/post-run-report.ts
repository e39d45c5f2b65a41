/**
 * The post-run check's findings (sandbox/post-run.ts) as the user and the audit log see them: one
 * summary line and one `violation` record each.
 */
import type { EventPayloads, PostRunCheck } from '../core/events.js';
import type { PostRunFinding, PostRunReport } from '../sandbox/index.js';

/** A finding in the run summary's JSON. */
export interface SummaryFinding {
  readonly path: string;
  readonly kind: PostRunFinding['kind'];
  readonly action: PostRunFinding['action'];
  readonly reason: string;
  readonly moved_to: string | null;
  readonly error?: string;
}

/** The summary's `post_run` field. */
export interface SummaryPostRun {
  readonly findings: readonly SummaryFinding[];
  /** False when the check stopped early (a very large tree) or met a directory it could not read. */
  readonly complete: boolean;
}

export function summaryPostRun(report: PostRunReport | null): SummaryPostRun {
  return {
    findings: (report?.findings ?? []).map((f) => ({
      path: f.path,
      kind: f.kind,
      action: f.action,
      reason: f.reason,
      moved_to: f.movedTo ?? null,
      ...(f.error === undefined ? {} : { error: f.error }),
    })),
    complete: report?.complete ?? true,
  };
}

/** The `violation` record of each finding. */
export function findingViolations(report: PostRunReport | null): EventPayloads['violation'][] {
  return (report?.findings ?? []).map((f) => ({ kind: f.kind, detail: `${f.path}: ${f.reason}; ${outcome(f)}` }));
}

/** The `post_run` part of `sandbox.destroyed`. */
export function postRunRecord(report: PostRunReport): PostRunCheck {
  return {
    entries: report.entriesSeen,
    complete: report.complete,
    findings: report.findings.length,
    elapsed_ms: Math.round(report.elapsedMs),
  };
}

/** Summary lines, one per finding, plus a warning when the check did not finish. */
export function formatPostRun(post: SummaryPostRun): string[] {
  const lines = post.findings.map((f) => `  ${label(f)} ${f.path}: ${f.reason}; ${outcome(f)}`);
  if (!post.complete)
    lines.push(
      '  warning: the post-run check did not cover the whole workspace (too large, or a directory it could not read); check new .git directories and hidden files before running git or an editor there',
    );
  return lines;
}

function label(f: { kind: PostRunFinding['kind']; action: PostRunFinding['action'] }): string {
  switch (f.action) {
    case 'quarantined':
      return f.kind === 'git_planted' ? 'QUARANTINED git' : 'QUARANTINED';
    case 'stripped':
      return 'STRIPPED';
    case 'removed':
      return 'REMOVED';
    case 'made_readable':
      return 'MADE READABLE';
    case 'reported':
      return 'WARNING';
  }
}

function outcome(f: {
  action: PostRunFinding['action'];
  movedTo?: string | null;
  moved_to?: string | null;
  error?: string;
}): string {
  const movedTo = f.movedTo ?? f.moved_to ?? null;
  if (f.error !== undefined) return `could not be handled (${f.error}): check it before running git or an editor there`;
  switch (f.action) {
    case 'quarantined':
      return movedTo === null
        ? 'COULD NOT be moved: check it first'
        : `moved to ${movedTo}; check it before renaming it back`;
    case 'stripped':
      return 'bits removed';
    case 'removed':
      return 'removed';
    case 'made_readable':
      return 'checked';
    case 'reported':
      return 'not checked';
  }
}
