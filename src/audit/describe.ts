/**
 * One line per audit event, in words: what `warden audit show` and the demo print.
 */
import type { AuditRecord, StartedBy } from '../core/events.js';
import { describeLimits } from '../core/limits.js';

/** One line per event, in words. */
export function describeEvent(event: AuditRecord): string {
  switch (event.type) {
    case 'run.started':
      return `${event.data.command.join(' ')}${event.data.command_digest === undefined ? '' : ` … (shortened: ${event.data.command_digest.args} args, ${event.data.command_digest.bytes} bytes, sha256 ${event.data.command_digest.sha256.slice(0, 16)}…)`}  [profile ${event.data.profile}, workspace ${event.data.workspace ?? 'none'}, allow ${event.data.network_allow.length === 0 ? 'nothing' : event.data.network_allow.join(' ')}${event.data.limits.enforcement === undefined ? '' : `; ${describeLimits(event.data.limits.enforcement).join('; ')}`}${startedByText(event.data.started_by)}]`;
    case 'sandbox.created':
      return `bwrap pid ${event.data.pid} as uid ${event.data.sandbox_uid}, ready in ${event.data.setup_ms} ms, seccomp ${event.data.seccomp ? 'on' : 'off'}, cgroups ${event.data.cgroups.join(',') || 'none'}`;
    case 'egress.allowed':
      return `ALLOW ${event.data.protocol} ${event.data.method ?? ''} ${event.data.host}:${event.data.port} -> ${event.data.address} (rule ${event.data.rule})`.replace(
        / {2,}/g,
        ' ',
      );
    case 'egress.denied':
      return `DENY  ${event.data.protocol} ${event.data.method ?? ''} ${event.data.host}:${event.data.port} (${event.data.reason}): ${event.data.detail}`.replace(
        / {2,}/g,
        ' ',
      );
    case 'limit.hit':
      return `LIMIT ${event.data.limit}: ${event.data.detail}`;
    case 'mcp.server':
      return `MCP server ${event.data.server} ${event.data.state}${event.data.tools === undefined ? '' : ` (${event.data.tools} tools)`}: ${event.data.detail}${event.data.hint === undefined ? '' : ` (fix: ${event.data.hint})`}${event.data.stderr === undefined ? '' : ` [stderr recorded: warden logs ${event.data.server} --run ${event.run_id}]`}`;
    case 'mcp.listed':
      return `MCP ${event.data.subject}s listed: ${event.data.shown} shown, ${event.data.hidden_total} hidden${
        event.data.hidden.length > 0
          ? ` (${event.data.hidden
              .slice(0, 5)
              .map((h) => `${h.name}: ${h.reason}`)
              .join('; ')}${event.data.hidden_total > 5 ? '; …' : ''})`
          : ''
      }`;
    case 'mcp.call':
      return `${event.data.decision === 'allow' ? 'ALLOW' : 'DENY '} ${event.data.subject} ${event.data.name} -> ${event.data.outcome}${event.data.tool_error ? ' (tool error)' : ''}${event.data.upstream_ms === null ? '' : ` in ${event.data.upstream_ms} ms`}${event.data.result_bytes === null ? '' : `, ${event.data.result_bytes} B`} [${event.data.policy_ids.join(', ') || 'no policy'}: ${event.data.reason}]${event.data.error === undefined ? '' : ` ${event.data.error}`}${event.data.scan === undefined ? '' : ` scan: ${event.data.scan.action} (${findingsText(event.data.scan.findings)})`}`;
    case 'mcp.definition':
      return `MCP ${event.data.kind} ${event.data.server}/${event.data.name} ${event.data.state}${event.data.findings.length === 0 ? '' : `: ${findingsText(event.data.findings)}`}${event.data.pinned_hash === undefined ? '' : ` (pinned ${event.data.pinned_hash.slice(0, 19)}, now ${event.data.hash.slice(0, 19)}; see warden tools diff)`}`;
    case 'mcp.rejected':
      return `MCP request rejected (${event.data.code}): ${event.data.reason}`;
    case 'violation':
      return `VIOLATION ${event.data.kind}: ${event.data.detail}`;
    case 'sandbox.destroyed':
      return `sandbox gone (${event.data.leftover_processes} leftover processes killed${event.data.placeholders_removed === undefined ? '' : `, ${event.data.placeholders_removed} placeholders removed`}${gitScanText(event.data.git_scan)}${postRunText(event.data.post_run)})`;
    case 'run.recovered':
      return `ended without its warden; sandbox ${event.data.sandbox} cleaned up by a later start after ${event.data.ms_until_recovered} ms${postRunText(event.data.post_run)}`;
    case 'run.ended':
      return `${event.data.reason}, exit ${event.data.exit_code}${event.data.signal === null ? '' : ` (${event.data.signal})`} after ${event.data.duration_ms} ms; egress ${event.data.egress.allowed} allowed / ${event.data.egress.denied} denied${event.data.limits_hit.length > 0 ? `; limits hit: ${event.data.limits_hit.join(', ')}` : ''}${event.data.error === undefined ? '' : `; error: ${event.data.error}`}`;
  }
}

function startedByText(who: StartedBy | undefined): string {
  if (who === undefined) return '';
  const user = `${who.user ?? `uid ${who.uid}`}${who.sudo_user === undefined ? '' : ` (sudo by ${who.sudo_user})`}`;
  const ci =
    who.ci === undefined
      ? ''
      : ` in ${who.ci.system}${who.ci.repository === undefined ? '' : ` ${who.ci.repository}`}${who.ci.run === undefined ? '' : ` run ${who.ci.run}`}${who.ci.actor === undefined ? '' : ` for ${who.ci.actor}`}`;
  return `; started by ${user}${ci}`;
}

function findingsText(
  findings: readonly { readonly rule: string; readonly severity: string; readonly path: string }[],
): string {
  const shown = findings.slice(0, 3).map((f) => `${f.severity} ${f.rule} at ${f.path}`);
  return `${shown.join('; ')}${findings.length > 3 ? `; … ${findings.length - 3} more` : ''}`;
}

function postRunText(
  check:
    | { readonly entries: number; readonly complete: boolean; readonly findings: number; readonly elapsed_ms: number }
    | undefined,
): string {
  if (check === undefined) return '';
  return `; post-run check: ${check.entries} entries in ${check.elapsed_ms} ms${check.complete ? '' : ' (stopped early: not all checked)'}, ${check.findings} findings`;
}

function gitScanText(
  scan: { readonly entries: number; readonly complete: boolean; readonly quarantined: number } | undefined,
): string {
  if (scan === undefined) return '';
  return `; git check: ${scan.entries} entries${scan.complete ? '' : ' (stopped early: not all checked)'}, ${scan.quarantined} repositories quarantined`;
}
