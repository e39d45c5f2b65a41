/**
 * The scanner's public shapes: a finding, a report, and the plug-in point for extra detectors.
 * docs/scanning.md lists every built-in rule id with its severity and limits.
 */

/** How bad a finding is. The gateway quarantines `high` by default. */
export type Severity = 'low' | 'medium' | 'high';

/** Where scanned text came from: what a server declares (tools, prompts, …) or what it returns. */
export type TextKind = 'definition' | 'output';

/** One thing the scanner found in one field. */
export interface Finding {
  /** Stable kebab-case rule id, documented in docs/scanning.md (e.g. 'secrecy', 'invisible-text'). */
  readonly rule: string;
  readonly severity: Severity;
  /** Field path in the scanned value: 'description', 'inputSchema.properties.q.description', 'content[0].text'. */
  readonly path: string;
  /** The offending text, at most 200 characters, invisible and control characters escaped (\u200b). */
  readonly span: string;
  /** One sentence a reviewer understands. */
  readonly explanation: string;
}

/** The findings of one scanned value; `severity` is the highest among them (null: none). */
export interface ScanReport {
  readonly severity: Severity | null;
  readonly findings: readonly Finding[];
}

/** Where a detector's text sits: its kind and its field path. */
export interface DetectorContext {
  readonly kind: TextKind;
  readonly path: string;
}

/** A detector plugged into the Scanner after the built-in rules (e.g. a stronger classifier). */
export interface Detector {
  readonly id: string;
  detect(text: string, where: DetectorContext): readonly Finding[];
}

const RANK: Readonly<Record<Severity, number>> = { low: 1, medium: 2, high: 3 };

/** Orders severities: positive when `a` is worse than `b`. */
export function compareSeverity(a: Severity, b: Severity): number {
  return RANK[a] - RANK[b];
}

/** The highest severity among `findings`, or null when there are none. */
export function highestSeverity(findings: readonly Finding[]): Severity | null {
  let worst: Severity | null = null;
  for (const finding of findings)
    if (worst === null || compareSeverity(finding.severity, worst) > 0) worst = finding.severity;
  return worst;
}
