/**
 * The Scanner: runs the built-in rules (rules.ts, output-rules.ts, unicode.ts, decode.ts) and any
 * plugged-in detectors over every string of an MCP definition or of returned content, and reports
 * findings with their field paths. Pure and synchronous: no I/O, so the gateway can call it on
 * every listing and every result.
 *
 * Bounds: at most DEFINITION_SCAN_LIMIT (definitions) or OUTPUT_SCAN_LIMIT (output) characters of
 * text per scanned value; the rest is not scanned and an `oversized` finding says so.
 */
import { findEncodedText } from './decode.js';
import { scanResponseManipulation, scanTaskHijack } from './output-rules.js';
import { OUTPUT_RULES, PHRASE_RULES, type FieldRole, type PhraseRule } from './rules.js';
import { foldText, spanOf } from './text.js';
import { highestSeverity, type Detector, type Finding, type ScanReport, type TextKind } from './types.js';
import { decodeTagCharacters, scanCharacters, scanScripts, type RawFinding } from './unicode.js';
import { walkDefinition, walkOutput, type TextEntry, type Walked } from './walk.js';

/** Characters of text scanned per definition (a tool, prompt, resource or instructions). */
export const DEFINITION_SCAN_LIMIT = 64 * 1024;
/** Characters of text scanned per returned value (a tool result, resource contents, a message). */
export const OUTPUT_SCAN_LIMIT = 256 * 1024;
/** A description longer than this is reported (low): long text hides instructions in plain sight. */
export const LONG_DESCRIPTION = 2000;
/** Findings kept per report (the first ones, in field order). */
const MAX_FINDINGS = 100;

/** Parameter names that ask for the calling model's identity, prompt, conversation or tools. */
const OUT_OF_SCOPE_NAME =
  /(?:^|_)(?:llm|assistant|chatbot)(?:_|$)|(?:^|_)ai_(?:model|name|agent)|system_?(?:prompt|message|instructions)|(?:conversation|chat|dialog(?:ue)?)_?(?:history|log|transcript|context|messages)|(?:previous|prior|all|past)_?messages|(?:tools?|functions?|servers?)_?(?:list|names)|(?:available|other|installed|connected)_?(?:tools|functions|servers)|(?:model|agent)_?(?:identity|self)/;

/** Docstring parameters that frameworks inject and drop from the schema (FastMCP's Context). */
const FRAMEWORK_PARAMETERS = new Set(['ctx', 'context', 'self', 'cls', 'kwargs', 'args']);

function finding(raw: RawFinding, path: string): Finding {
  return { rule: raw.rule, severity: raw.severity, path, span: raw.span, explanation: raw.explanation };
}

/** snake_case form of a name (camelCase split), for the parameter-name check. */
function snakeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[\s.-]+/g, '_')
    .toLowerCase();
}

/**
 * The parameter names a Python-style docstring documents under `Args:` / `Parameters:`: the
 * `name:` lines at the indentation of the first one (deeper lines continue a description).
 */
function documentedParameters(description: string): string[] {
  const names: string[] = [];
  let inArgs = false;
  let indent = -1;
  let lines = 0;
  for (const line of description.split('\n')) {
    if (++lines > 400) break;
    if (/^\s*(?:args|arguments|parameters|params)\s*:\s*$/i.test(line)) {
      inArgs = true;
      indent = -1;
      continue;
    }
    if (!inArgs) continue;
    if (/^\s*$/.test(line) || /^\s*(?:returns?|raises|yields|examples?|notes?)\s*:/i.test(line)) {
      if (names.length > 0) inArgs = false;
      continue;
    }
    const depth = /^\s*/.exec(line)?.[0].length ?? 0;
    if (indent >= 0 && depth > indent) continue;
    if (indent >= 0 && depth < indent) {
      inArgs = false;
      continue;
    }
    const match = /^\s+\**([A-Za-z_][\w]*)\s*(?:\([^)\n]{0,40}\))?\s*:/.exec(line);
    if (match?.[1] !== undefined) {
      names.push(match[1]);
      indent = depth;
    }
  }
  return names;
}

/** Levenshtein distance of two short names (bounded: names over 64 characters count as far apart). */
function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Number.POSITIVE_INFINITY;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Encodings that benign content uses for text of its own (mail bodies, URLs): low in output. */
const EVERYDAY_ENCODINGS = new Set(['base64', 'hex', 'url-encoding', 'caesar']);

/** Runs the rules over values; one instance can be shared (it keeps no state between scans). */
export class Scanner {
  private readonly detectors: readonly Detector[];

  constructor(options?: { readonly detectors?: readonly Detector[] }) {
    this.detectors = options?.detectors ?? [];
  }

  /** A whole MCP tool definition: every string in it, plus whole-tool checks. */
  scanTool(tool: unknown): ScanReport {
    const walked = walkDefinition(tool);
    const findings = this.scanEntries(walked, 'definition', DEFINITION_SCAN_LIMIT);
    findings.push(...this.toolChecks(tool));
    return report(findings);
  }

  /** A prompt: name, title, description, arguments[].name/title/description. */
  scanPrompt(prompt: unknown): ScanReport {
    const findings = this.scanEntries(walkDefinition(prompt), 'definition', DEFINITION_SCAN_LIMIT);
    findings.push(...this.descriptionLength(prompt));
    return report(findings);
  }

  /** A resource or resource template: uri/uriTemplate, name, title, description, every string. */
  scanResource(resource: unknown): ScanReport {
    const findings = this.scanEntries(walkDefinition(resource), 'definition', DEFINITION_SCAN_LIMIT);
    findings.push(...this.descriptionLength(resource));
    return report(findings);
  }

  /** The server's initialize `instructions`. */
  scanInstructions(text: string): ScanReport {
    const walked: Walked = { entries: [{ path: 'instructions', text, role: 'text' }], truncatedAt: null };
    return report(this.scanEntries(walked, 'definition', DEFINITION_SCAN_LIMIT));
  }

  /**
   * Returned content: a tool result, resource contents or a relayed message. Every string in it,
   * with JSON text parsed and walked; `path` prefixes the field paths (e.g. 'result').
   */
  scanOutput(value: unknown, path = ''): ScanReport {
    return report(this.scanEntries(walkOutput(value, path), 'output', OUTPUT_SCAN_LIMIT));
  }

  /** One piece of text, as a definition field or as returned content (path 'text'). */
  scanText(text: string, kind: TextKind): ScanReport {
    const walked: Walked = { entries: [{ path: 'text', text, role: 'text' }], truncatedAt: null };
    return report(this.scanEntries(walked, kind, kind === 'definition' ? DEFINITION_SCAN_LIMIT : OUTPUT_SCAN_LIMIT));
  }

  private scanEntries(walked: Walked, kind: TextKind, limit: number): Finding[] {
    const findings: Finding[] = [];
    let budget = limit;
    let skipped = 0;
    let skippedAt: string | null = null;
    for (const entry of walked.entries) {
      if (budget <= 0) {
        skipped += entry.text.length;
        skippedAt ??= entry.path;
        continue;
      }
      let text = entry.text;
      if (text.length > budget) {
        skipped += text.length - budget;
        skippedAt ??= entry.path;
        text = text.slice(0, budget);
      }
      budget -= text.length;
      findings.push(...this.scanString({ ...entry, text }, kind));
      if (findings.length >= MAX_FINDINGS) break;
    }
    if (skippedAt !== null)
      findings.push({
        rule: 'oversized',
        severity: kind === 'definition' ? 'medium' : 'low',
        path: skippedAt,
        span: spanOf(`${skipped} characters not scanned`),
        explanation: `The value holds more text than the ${limit / 1024} KiB scan limit; ${skipped} characters from here on were not scanned.`,
      });
    if (walked.truncatedAt !== null)
      findings.push({
        rule: 'oversized',
        severity: kind === 'definition' ? 'medium' : 'low',
        path: walked.truncatedAt,
        span: spanOf('nesting or size beyond the walk limits'),
        explanation: 'The value is nested deeper or has more fields than the scanner walks; the rest was not scanned.',
      });
    return dedupe(findings);
  }

  /** Every check on one string. */
  private scanString(entry: TextEntry, kind: TextKind): Finding[] {
    const { path, text, role } = entry;
    const findings: Finding[] = [];
    for (const raw of scanCharacters(text, kind)) {
      findings.push(finding(raw, path));
      if (raw.rule === 'unicode-tags') {
        const hidden = decodeTagCharacters(text);
        const rules = phraseFindings(hidden, kind, 'text');
        if (rules.length > 0)
          findings.push({
            rule: 'decoded-instruction',
            severity: 'high',
            path,
            span: spanOf(`tag characters: ${hidden}`),
            explanation: `Invisible tag characters spell instructions for the model (${ruleList(rules)}).`,
          });
      }
    }
    const folded = foldText(text);
    for (const raw of phraseFindings(text, kind, role, folded)) findings.push(finding(raw, path));
    if (kind === 'definition' && role === 'name' && path.includes('.properties.')) {
      const name = snakeName(text);
      if (OUT_OF_SCOPE_NAME.test(name))
        findings.push({
          rule: 'out-of-scope-parameter',
          severity: 'medium',
          path,
          span: spanOf(text),
          explanation:
            "A parameter's name asks for the calling model's identity, prompt, conversation or tool list, which a tool has no need of.",
        });
    }
    for (const raw of scanScripts(text)) findings.push(finding(raw, path));
    for (const blob of findEncodedText(text)) {
      const inner = phraseFindings(blob.decoded, kind, 'text');
      // One level deeper: base64 of base64, hex of base64.
      for (const nested of findEncodedText(blob.decoded)) inner.push(...phraseFindings(nested.decoded, kind, 'text'));
      if (inner.length > 0)
        findings.push({
          rule: 'decoded-instruction',
          severity: 'high',
          path,
          span: spanOf(`${blob.encoding}: ${blob.decoded}`),
          explanation: `A ${blob.encoding} blob decodes to instructions for the model (${ruleList(inner)}).`,
        });
      else
        findings.push({
          rule: 'encoded-text',
          severity: kind === 'definition' || !EVERYDAY_ENCODINGS.has(blob.encoding) ? 'medium' : 'low',
          path,
          span: spanOf(`${blob.encoding}: ${blob.decoded}`),
          explanation: `A ${blob.encoding} blob decodes to readable text the user cannot read as it stands.`,
        });
    }
    for (const detector of this.detectors) {
      for (const extra of detector.detect(text, { kind, path })) findings.push(extra);
    }
    return findings;
  }

  /** Whole-tool checks: parameters the description documents but the schema lacks; length. */
  private toolChecks(tool: unknown): Finding[] {
    const findings = this.descriptionLength(tool);
    if (typeof tool !== 'object' || tool === null) return findings;
    const { description, inputSchema } = tool as { description?: unknown; inputSchema?: unknown };
    if (typeof description !== 'string' || typeof inputSchema !== 'object' || inputSchema === null) return findings;
    const properties = (inputSchema as { properties?: unknown }).properties;
    const declared =
      typeof properties === 'object' && properties !== null ? new Set(Object.keys(properties)) : new Set<string>();
    // A near spelling (a typo on either side) is sloppiness, not a hidden parameter.
    const missing = documentedParameters(description).filter(
      (name) =>
        !declared.has(name) &&
        !FRAMEWORK_PARAMETERS.has(name.toLowerCase()) &&
        ![...declared].some((d) => editDistance(d, name) <= 2),
    );
    if (missing.length > 0)
      findings.push({
        rule: 'schema-mismatch',
        severity: 'medium',
        path: 'description',
        span: spanOf(missing.join(', ')),
        explanation: `The description documents parameter(s) the input schema does not declare (${missing.slice(0, 5).join(', ')}): the model is told one thing and the server accepts another.`,
      });
    return findings;
  }

  private descriptionLength(value: unknown): Finding[] {
    if (typeof value !== 'object' || value === null) return [];
    const description = (value as { description?: unknown }).description;
    if (typeof description !== 'string' || description.length <= LONG_DESCRIPTION) return [];
    return [
      {
        rule: 'long-description',
        severity: 'low',
        path: 'description',
        span: spanOf(`${description.length} characters`),
        explanation: `The description is ${description.length} characters long (over ${LONG_DESCRIPTION}): long text can bury instructions a reviewer skims past.`,
      },
    ];
  }
}

/** The phrase rules that match `text` (already folded when `folded` is given). */
function phraseFindings(text: string, kind: TextKind, role: FieldRole, folded = foldText(text)): RawFinding[] {
  const found: RawFinding[] = [];
  const apply = (rule: PhraseRule): void => {
    const severity = rule.severity[kind];
    if (severity === undefined) return;
    if (rule.roles !== undefined && !rule.roles.includes(role)) return;
    for (const pattern of rule.patterns) {
      const match = pattern.exec(folded);
      if (match !== null) {
        found.push({
          rule: rule.id,
          severity,
          span: spanOf(original(text, match[0].trim())),
          explanation: rule.explanation,
        });
        return;
      }
    }
  };
  for (const rule of PHRASE_RULES) apply(rule);
  if (kind === 'output') {
    for (const rule of OUTPUT_RULES) apply(rule);
    for (const raw of [scanResponseManipulation(folded), scanTaskHijack(folded)])
      if (raw !== null) found.push({ ...raw, span: spanOf(original(text, raw.span)) });
  }
  return found;
}

/**
 * The span as the text wrote it, when folding changed nothing but case (the usual case); else the
 * folded form the rule matched.
 */
function original(text: string, matched: string): string {
  const at = text.toLowerCase().indexOf(matched);
  if (at < 0) return matched;
  const slice = text.slice(at, at + matched.length);
  return slice.toLowerCase() === matched ? slice : matched;
}

function ruleList(findings: readonly RawFinding[]): string {
  return [...new Set(findings.map((f) => f.rule))].join(', ');
}

/** One finding per (rule, path): the first, which is the earliest in the text. */
function dedupe(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const f of findings) {
    const key = `${f.rule}\u0000${f.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
    if (out.length >= MAX_FINDINGS) break;
  }
  return out;
}

function report(findings: readonly Finding[]): ScanReport {
  const deduped = dedupe(findings);
  return { severity: highestSeverity(deduped), findings: deduped };
}
