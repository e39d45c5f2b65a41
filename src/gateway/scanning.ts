/**
 * What the gateway needs of a scanner (src/scan/ provides one; any object of this shape plugs in)
 * and the policy that says what a finding does. Kept structural so the gateway does not depend on
 * one scanner implementation (design.md: "designed so a stronger classifier can be plugged in").
 */
import { DEFAULT_MCP_SCAN } from '../core/config-defaults.js';
import type { ScanFindingRecord } from '../core/events.js';

export type Severity = 'low' | 'medium' | 'high';

export interface ScanFinding {
  readonly rule: string;
  readonly severity: Severity;
  readonly path: string;
  readonly span: string;
  readonly explanation: string;
}

export interface ScanReportLike {
  readonly severity: Severity | null;
  readonly findings: readonly ScanFinding[];
}

/** The scanner the gateway calls on every definition it lists and every answer it relays. */
export interface GatewayScanner {
  scanTool(tool: unknown): ScanReportLike;
  scanPrompt(prompt: unknown): ScanReportLike;
  scanResource(resource: unknown): ScanReportLike;
  scanInstructions(text: string): ScanReportLike;
  scanOutput(value: unknown, path?: string): ScanReportLike;
}

/** What a finding in a definition does: hide it (and refuse calls), show it with a warning, or nothing. */
export type DefinitionAction = 'quarantine' | 'warn' | 'allow';
/** What a finding in an answer does: withhold it, wrap it as quoted untrusted data, annotate it, or nothing. */
export type OutputSetting = 'block' | 'wrap' | 'annotate' | 'allow';
/**
 * When a tool definition is pinned: on first sight (later changes hide it until approved), only by
 * `warden tools approve` (every tool hidden until approved), or never.
 */
export type PinMode = 'first-sight' | 'approve' | 'off';

/** profiles.<name>.mcp.scan, resolved. */
export interface ScanPolicy {
  readonly definitions: Readonly<Record<Severity, DefinitionAction>>;
  readonly outputs: Readonly<Record<Severity, OutputSetting>>;
  readonly pin: PinMode;
}

/** The defaults docs/config.md gives. */
export const DEFAULT_SCAN_POLICY: ScanPolicy = DEFAULT_MCP_SCAN;

/** At most this many findings go on record per definition or answer (the count says how many more). */
export const MAX_RECORDED_FINDINGS = 20;

/** A finding as the audit log keeps it: bounded, no explanation (docs/scanning.md has it per rule). */
export function findingRecords(findings: readonly ScanFinding[]): ScanFindingRecord[] {
  return findings.slice(0, MAX_RECORDED_FINDINGS).map((f) => ({
    rule: f.rule.slice(0, 80),
    severity: f.severity,
    path: f.path.slice(0, 300),
    span: f.span.slice(0, 200),
  }));
}
