/**
 * What the gateway makes of each server's definitions before an agent sees them: every tool,
 * prompt, resource and template is scanned (SCAN-01…04), every tool is compared with its pin
 * (SCAN-05), and each gets a verdict — shown, shown with a warning, or hidden with the reason.
 * Verdicts are worked out when a server's lists arrive or change, not on every listing.
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { DefinitionState, EventPayloads } from '../core/events.js';
import { definitionHash, type PinStore, type ServerPins } from './pins.js';
import {
  findingRecords,
  type GatewayScanner,
  type ScanFinding,
  type ScanPolicy,
  type ScanReportLike,
} from './scanning.js';

/** One definition's verdict. `hidden` holds the reason the agent's listing leaves it out. */
export interface Verdict {
  readonly state: DefinitionState | 'shown';
  readonly hidden: string | null;
  readonly hash: string;
  readonly pinnedHash: string | null;
  /** The definition as pinned, when it changed since (for `warden tools diff`). */
  readonly pinnedDefinition?: unknown;
  readonly findings: readonly ScanFinding[];
}

/** What a server offers, as the gateway received it. */
export interface ServerDefinitions {
  readonly tools: readonly Tool[];
  readonly prompts: readonly Prompt[];
  readonly resources: readonly Resource[];
  readonly resourceTemplates: readonly ResourceTemplate[];
  readonly instructions: string | undefined;
}

export interface DefinitionScreenOptions {
  /** Absent: nothing is scanned (findings are empty). */
  readonly scanner?: GatewayScanner;
  /** Absent: nothing is pinned. */
  readonly pins?: PinStore;
  readonly policy: ScanPolicy;
  /** Where each verdict that is not plain `shown` goes (an mcp.definition record). */
  readonly record: (data: EventPayloads['mcp.definition']) => void;
}

const EMPTY: ScanReportLike = { severity: null, findings: [] };

export class DefinitionScreen {
  readonly #options: DefinitionScreenOptions;
  /** server NUL kind NUL name → verdict. */
  readonly #verdicts = new Map<string, Verdict>();
  readonly #instructions = new Map<string, string | null>();

  constructor(options: DefinitionScreenOptions) {
    this.#options = options;
  }

  /** (Re)judges everything one server offers; records what changed since the last time. */
  judge(server: string, offer: ServerDefinitions): void {
    const before = new Map([...this.#verdicts].filter(([key]) => key.startsWith(`${server}\u0000`)));
    for (const key of before.keys()) this.#verdicts.delete(key);
    this.#judgeTools(server, offer.tools);
    const scanner = this.#options.scanner;
    for (const prompt of offer.prompts)
      this.#set(
        server,
        'prompt',
        prompt.name,
        this.#byFindings(prompt, scanner?.scanPrompt(prompt) ?? EMPTY, 'prompt'),
      );
    for (const resource of [...offer.resources, ...offer.resourceTemplates]) {
      const name = 'uri' in resource ? resource.uri : resource.uriTemplate;
      this.#set(
        server,
        'resource',
        name,
        this.#byFindings(resource, scanner?.scanResource(resource) ?? EMPTY, 'resource'),
      );
    }
    const instructions = offer.instructions ?? '';
    if (instructions === '') this.#instructions.set(server, null);
    else {
      const verdict = this.#byFindings(instructions, scanner?.scanInstructions(instructions) ?? EMPTY, 'instructions');
      // Instructions reach the agent unless the policy quarantines what the scanner found in them,
      // as it would a tool (SCAN-02). A warning is recorded, and they pass: instructions name the
      // server's own tools by design, which reads like shadowing to a scanner without context.
      this.#instructions.set(server, verdict.hidden === null ? instructions : null);
      this.#set(server, 'instructions', 'instructions', verdict);
    }
    for (const [key, verdict] of this.#verdicts) {
      if (!key.startsWith(`${server}\u0000`)) continue;
      const previous = before.get(key);
      if (verdict.state === 'shown') continue;
      if (previous !== undefined && previous.state === verdict.state && previous.hash === verdict.hash) continue;
      const [, kind, name] = key.split('\u0000') as [string, EventPayloads['mcp.definition']['kind'], string];
      this.#options.record({
        server,
        kind,
        name: name.slice(0, 2048),
        state: verdict.state,
        hash: verdict.hash,
        ...(verdict.pinnedHash !== null && verdict.pinnedHash !== verdict.hash
          ? { pinned_hash: verdict.pinnedHash }
          : {}),
        findings: findingRecords(verdict.findings),
      });
    }
  }

  /** Why a tool is hidden from every agent, or null when it may be shown. */
  toolHidden(server: string, name: string): string | null {
    return this.#verdicts.get(key(server, 'tool', name))?.hidden ?? null;
  }

  promptHidden(server: string, name: string): string | null {
    return this.#verdicts.get(key(server, 'prompt', name))?.hidden ?? null;
  }

  resourceHidden(server: string, uri: string): string | null {
    return this.#verdicts.get(key(server, 'resource', uri))?.hidden ?? null;
  }

  /** A server whose definitions cannot be judged (its pins are unusable): every tool of it is hidden with `reason`. */
  hideServer(server: string, tools: readonly Tool[], reason: string): void {
    for (const tool of tools)
      this.#verdicts.set(key(server, 'tool', tool.name), {
        state: 'quarantined',
        hidden: reason,
        hash: definitionHash(tool),
        pinnedHash: null,
        findings: [],
      });
  }

  /** A tool's verdict (for `warden tools ls`), if the server offered it. */
  toolVerdict(server: string, name: string): Verdict | undefined {
    return this.#verdicts.get(key(server, 'tool', name));
  }

  /** The server's instructions when they scanned clean, else null. */
  instructions(server: string): string | null {
    return this.#instructions.get(server) ?? null;
  }

  #judgeTools(server: string, tools: readonly Tool[]): void {
    const { pins: store, policy, scanner } = this.#options;
    const judged = tools.map((tool) => ({
      tool,
      hash: definitionHash(tool),
      report: scanner?.scanTool(tool) ?? EMPTY,
    }));
    const pinning = store !== undefined && policy.pin !== 'off';
    let pins: ServerPins | null = pinning ? store.read(server) : null;
    if (pinning && pins === null && policy.pin === 'first-sight' && judged.length > 0) {
      // First sight of this server: pin what may be shown (a quarantined tool is not pinned; if
      // it is ever shown, a person approved it).
      const clean = judged.filter((j) => this.#byFindings(j.tool, j.report).hidden === null);
      pins = store.pinFirstSight(
        server,
        clean.map((j) => ({ name: j.tool.name, hash: j.hash, definition: j.tool })),
      );
      for (const j of clean)
        if (pins.tools[j.tool.name]?.hash === j.hash && pins.tools[j.tool.name]?.pinned_by === 'first-sight')
          this.#firstSight.add(key(server, 'tool', j.tool.name));
    }
    for (const { tool, hash, report } of judged) {
      const k = key(server, 'tool', tool.name);
      const pinned = pins?.tools[tool.name];
      const byFindings = this.#byFindings(tool, report);
      if (pinning && pinned === undefined && byFindings.hidden !== null) {
        // Never pinned because quarantined: the findings say more than "new".
        this.#verdicts.set(k, byFindings);
        continue;
      }
      if (pinning && pinned === undefined) {
        const why =
          policy.pin === 'approve'
            ? 'not approved yet (mcp.scan.pin is approve)'
            : "appeared after this server's tools were pinned";
        this.#verdicts.set(k, {
          state: 'new',
          hidden: `${why}; review it with \`warden tools diff ${server}\` and approve it with \`warden tools approve ${server}/${tool.name}\` (SCAN-05)`,
          hash,
          pinnedHash: null,
          findings: report.findings,
        });
        continue;
      }
      if (pinned !== undefined && pinned.hash !== hash) {
        this.#verdicts.set(k, {
          state: 'changed',
          hidden: `its definition changed since it was pinned (${pinned.pinned_by}); see \`warden tools diff ${server}\`, approve it with \`warden tools approve ${server}/${tool.name}\` (SCAN-05)`,
          hash,
          pinnedHash: pinned.hash,
          pinnedDefinition: pinned.definition,
          findings: report.findings,
        });
        continue;
      }
      // Pinned and unchanged (or not pinning): a person's review outranks the scanner's findings.
      const verdict =
        pinned?.reviewed === true ? { ...this.#byFindings(tool, EMPTY), findings: report.findings } : byFindings;
      const firstSight = this.#firstSight.delete(k);
      this.#verdicts.set(k, {
        ...verdict,
        hash,
        pinnedHash: pinned?.hash ?? null,
        state: verdict.state === 'shown' && firstSight ? 'pinned' : verdict.state,
      });
    }
  }

  /** Keys pinned on first sight in this judgement (recorded once as `pinned`). */
  readonly #firstSight = new Set<string>();

  /** The verdict the scanner's findings alone give, by the policy's action for the highest severity. */
  #byFindings(definition: unknown, report: ScanReportLike, kind: DefinitionKind = 'tool'): Verdict {
    const hash = definitionHash(definition);
    const action = report.severity === null ? 'allow' : this.#options.policy.definitions[report.severity];
    const worst = report.findings.find((f) => f.severity === report.severity);
    if (action === 'quarantine' && worst !== undefined)
      return {
        state: 'quarantined',
        hidden: `quarantined: ${worst.severity} finding ${worst.rule} in ${worst.path} (${worst.explanation.slice(0, 200)}); ${
          kind === 'tool'
            ? 'review it with `warden tools diff` and approve it with `warden tools approve` if it is harmless'
            : `a ${kind} cannot be approved one by one: ask the server's maintainers, or lower mcp.scan.definitions.${worst.severity} to warn`
        } (SCAN-01)`,
        hash,
        pinnedHash: null,
        findings: report.findings,
      };
    if (action === 'warn' && report.findings.length > 0)
      return { state: 'warned', hidden: null, hash, pinnedHash: null, findings: report.findings };
    return { state: 'shown', hidden: null, hash, pinnedHash: null, findings: report.findings };
  }

  #set(server: string, kind: 'prompt' | 'resource' | 'instructions', name: string, verdict: Verdict): void {
    this.#verdicts.set(key(server, kind, name), verdict);
  }
}

type DefinitionKind = EventPayloads['mcp.definition']['kind'];

function key(server: string, kind: string, name: string): string {
  return `${server}\u0000${kind}\u0000${name}`;
}
