/**
 * What the gateway makes of each server's definitions before an agent sees them: every tool,
 * prompt, resource and template is scanned (SCAN-01…04), every tool is compared with its pin
 * (SCAN-05), and each gets a verdict — shown, shown with a warning, or hidden with the reason.
 * Verdicts are worked out when a server's lists arrive or change, not on every listing.
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { DefinitionState, EventPayloads } from '../core/events.js';
import { definitionHash, pinsOf, type PinKind, type PinStore, type ServerPins } from './pins.js';
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
    const scanner = this.#options.scanner;
    this.#judgePinned(server, [
      ...offer.tools.map((tool) => judged('tool', tool.name, tool, scanner?.scanTool(tool))),
      ...offer.prompts.map((prompt) => judged('prompt', prompt.name, prompt, scanner?.scanPrompt(prompt))),
      ...[...offer.resources, ...offer.resourceTemplates].map((resource) =>
        judged(
          'resource',
          'uri' in resource ? resource.uri : resource.uriTemplate,
          resource,
          scanner?.scanResource(resource),
        ),
      ),
    ]);
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

  /**
   * A server whose definitions cannot be judged (its pins are unusable): everything it offers is
   * hidden with `reason`.
   */
  hideServer(server: string, offer: Omit<ServerDefinitions, 'instructions'>, reason: string): void {
    const all: [PinKind, string, unknown][] = [
      ...offer.tools.map((t) => ['tool', t.name, t] as [PinKind, string, unknown]),
      ...offer.prompts.map((p) => ['prompt', p.name, p] as [PinKind, string, unknown]),
      ...offer.resources.map((r) => ['resource', r.uri, r] as [PinKind, string, unknown]),
      ...offer.resourceTemplates.map((r) => ['resource', r.uriTemplate, r] as [PinKind, string, unknown]),
    ];
    for (const [kind, name, definition] of all)
      this.#verdicts.set(key(server, kind, name), {
        state: 'quarantined',
        hidden: reason,
        hash: definitionHash(definition),
        pinnedHash: null,
        findings: [],
      });
  }

  /** A tool's verdict (for `warden tools ls`), if the server offered it. */
  toolVerdict(server: string, name: string): Verdict | undefined {
    return this.#verdicts.get(key(server, 'tool', name));
  }

  /** A definition's verdict, if the server offered it (a template is a `resource` by its URI template). */
  verdict(server: string, kind: PinKind, name: string): Verdict | undefined {
    return this.#verdicts.get(key(server, kind, name));
  }

  /** The server's instructions when they scanned clean, else null. */
  instructions(server: string): string | null {
    return this.#instructions.get(server) ?? null;
  }

  /**
   * Tools, prompts, resources and templates against their pins (SCAN-05) and the scanner's
   * findings: one verdict each. On first sight of a server (or of a kind its pin file never
   * pinned) what may be shown is pinned.
   */
  #judgePinned(server: string, items: readonly Judged[]): void {
    const { pins: store, policy } = this.#options;
    const pinning = store !== undefined && policy.pin !== 'off';
    let pins: ServerPins | null = pinning ? store.read(server) : null;
    const unpinnedKinds = KINDS.filter((kind) => pinsOf(pins, kind) === undefined);
    if (pinning && policy.pin === 'first-sight' && unpinnedKinds.length > 0 && (pins !== null || items.length > 0)) {
      // First sight of this server (or of a kind): pin what may be shown (a quarantined one is
      // not pinned; if it is ever shown, a person approved it).
      const clean = items.filter(
        (j) => unpinnedKinds.includes(j.kind) && this.#byFindings(j.definition, j.report, j.kind).hidden === null,
      );
      pins = store.pinFirstSight(
        server,
        clean.map((j) => ({ kind: j.kind, name: j.name, hash: j.hash, definition: j.definition })),
        new Date(),
        unpinnedKinds,
      );
      for (const j of clean) {
        const pin = pinsOf(pins, j.kind)?.[j.name];
        if (pin?.hash === j.hash && pin.pinned_by === 'first-sight') this.#firstSight.add(key(server, j.kind, j.name));
      }
    }
    for (const { kind, name, definition, hash, report } of items) {
      const k = key(server, kind, name);
      const pinned = pinsOf(pins, kind)?.[name];
      const byFindings = this.#byFindings(definition, report, kind, hash);
      const approve = `warden tools approve ${kind === 'tool' ? '' : `--kind ${kind} `}${server}/${name}`;
      if (pinning && pinned === undefined && byFindings.hidden !== null) {
        // Never pinned because quarantined: the findings say more than "new".
        this.#verdicts.set(k, byFindings);
        continue;
      }
      if (pinning && pinned === undefined) {
        const why =
          policy.pin === 'approve'
            ? 'not approved yet (mcp.scan.pin is approve)'
            : `appeared after this server's ${kind}s were pinned`;
        this.#verdicts.set(k, {
          state: 'new',
          hidden: `${why}; review it with \`warden tools diff ${server}\` and approve it with \`${approve}\` (SCAN-05)`,
          hash,
          pinnedHash: null,
          findings: report.findings,
        });
        continue;
      }
      if (pinned !== undefined && pinned.hash !== hash) {
        this.#verdicts.set(k, {
          state: 'changed',
          hidden: `its definition changed since it was pinned (${pinned.pinned_by}); see \`warden tools diff ${server}\`, approve it with \`${approve}\` (SCAN-05)`,
          hash,
          pinnedHash: pinned.hash,
          pinnedDefinition: pinned.definition,
          findings: report.findings,
        });
        continue;
      }
      // Pinned and unchanged (or not pinning): a person's review outranks the scanner's findings.
      const verdict =
        pinned?.reviewed === true
          ? { ...this.#byFindings(definition, EMPTY, kind, hash), findings: report.findings }
          : byFindings;
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
  #byFindings(
    definition: unknown,
    report: ScanReportLike,
    kind: DefinitionKind = 'tool',
    hash = definitionHash(definition),
  ): Verdict {
    const action = report.severity === null ? 'allow' : this.#options.policy.definitions[report.severity];
    const worst = report.findings.find((f) => f.severity === report.severity);
    if (action === 'quarantine' && worst !== undefined)
      return {
        state: 'quarantined',
        hidden: `quarantined: ${worst.severity} finding ${worst.rule} in ${worst.path} (${worst.explanation.slice(0, 200)}); ${
          kind === 'instructions'
            ? `instructions cannot be approved: ask the server's maintainers, or lower mcp.scan.definitions.${worst.severity} to warn`
            : `review it with \`warden tools diff\` and approve it with \`warden tools approve${kind === 'tool' ? '' : ` --kind ${kind}`}\` if it is harmless`
        } (SCAN-01)`,
        hash,
        pinnedHash: null,
        findings: report.findings,
      };
    if (action === 'warn' && report.findings.length > 0)
      return { state: 'warned', hidden: null, hash, pinnedHash: null, findings: report.findings };
    return { state: 'shown', hidden: null, hash, pinnedHash: null, findings: report.findings };
  }

  #set(server: string, kind: 'instructions', name: string, verdict: Verdict): void {
    this.#verdicts.set(key(server, kind, name), verdict);
  }
}

/** The kinds that are pinned (a template is a resource named by its URI template). */
const KINDS: readonly PinKind[] = ['tool', 'prompt', 'resource'];

/** One definition as offered, with its hash and what the scanner found (computed once). */
interface Judged {
  readonly kind: PinKind;
  readonly name: string;
  readonly definition: unknown;
  readonly hash: string;
  readonly report: ScanReportLike;
}

function judged(kind: PinKind, name: string, definition: unknown, report: ScanReportLike | undefined): Judged {
  return { kind, name, definition, hash: definitionHash(definition), report: report ?? EMPTY };
}

type DefinitionKind = EventPayloads['mcp.definition']['kind'];

function key(server: string, kind: string, name: string): string {
  return `${server}\u0000${kind}\u0000${name}`;
}
