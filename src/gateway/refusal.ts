/**
 * The words of a policy refusal (GW-04, GW-12): which argument, its value, and which condition
 * and warden.yaml entry refused it, e.g.
 *
 *   argument 'path' ('/etc/passwd') is not under /work/ws (profiles.default.mcp.allow[0].when.path.under)
 *   argument 'path' ('public/link/key.txt' resolves to '/work/ws/secrets/key.txt') is under
 *     /work/ws/secrets (profiles.default.mcp.deny[0].when['*'].under)
 *
 * Written twice per refusal: for the audit log, which shows everything, and for the agent, which
 * is shown a path only where `shows` allows (the gateway allows the workspace only: warden
 * resolves paths on the host with its own rights, and the agent must not learn through it what
 * lies outside, see resolve-path.ts). Values are quoted with control and format characters
 * escaped and cut to a bounded length; values of sensitive arguments are not shown at all.
 */
import type { CallDenialExplanation, ConditionVerdict, GrantVerdict } from '../policy/index.js';
import { comparablePath, normalisePath } from '../policy/index.js';
import type { PathOrigin } from './arguments.js';

export interface RefusalOptions {
  /** The tool's upstream name (a deny without conditions names it). */
  readonly tool: string;
  /** The call's paths as given and resolved (prepareArguments). */
  readonly paths: readonly PathOrigin[];
  /** The workspace (relative paths were taken from it). */
  readonly workspace: string;
  /** Whether a resolved path may be shown to whoever reads this text. */
  readonly shows: (path: string) => boolean;
  /** Whether an argument's value must not be shown (audit redaction rules). */
  readonly sensitive: (argument: string) => boolean;
}

/** Grants described for one refusal; the rest are counted. */
const MAX_GRANTS = 3;
/** Conditions described per grant. */
const MAX_CONDITIONS = 3;
/** Items of a condition's list shown (directories, patterns, values). */
const MAX_EXPECTED = 4;
/** Characters of one quoted value. */
const MAX_VALUE = 120;
/** Characters of the whole text. */
const MAX_TEXT = 1500;

/** Control, format (bidi, zero-width), surrogate, private-use and unassigned characters. */
const UNPRINTABLE = /[\p{C}\u2028\u2029]/u;

/** `value` in single quotes: bounded, with quotes, backslashes and unprintable characters escaped. */
export function quoteValue(value: string, max = MAX_VALUE): string {
  let out = '';
  let count = 0;
  for (const ch of value) {
    if (++count > max) return `'${out}…' (${[...value].length} characters)`;
    if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else if (UNPRINTABLE.test(ch)) out += `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;
    else out += ch;
  }
  return `'${out}'`;
}

function listOf(items: readonly string[]): string {
  const shown = items.slice(0, MAX_EXPECTED);
  const more = items.length > MAX_EXPECTED ? `, … (${items.length} in all)` : '';
  if (shown.length <= 1) return `${shown.join('')}${more}`;
  return `${shown.slice(0, -1).join(', ')} or ${shown.at(-1) ?? ''}${more}`;
}

/** The path origin a decided place came from (the argument whose resolution reached it). */
function originOf(argument: string, place: string, paths: readonly PathOrigin[]): PathOrigin | undefined {
  const candidates = paths.filter((p) => (argument === '*' || p.argument === argument) && p.seen.includes(place));
  return candidates.find((p) => comparablePath(p.path) === place) ?? candidates[0];
}

/**
 * "argument 'path' ('given' resolves to 'real')" and, when the place decided on is a symlink's
 * target on the way rather than the path's end, "goes through 'place'," — the subject of the
 * condition's verb.
 */
function pathSubject(v: ConditionVerdict, place: string, options: RefusalOptions): { subject: string; via: string } {
  const origin = originOf(v.condition.argument, place, options.paths);
  const name = origin?.argument ?? v.condition.argument;
  const showsPlace = options.shows(place);
  if (options.sensitive(name)) return { subject: `argument '${name}'`, via: '' };
  if (origin === undefined)
    return { subject: `argument '${name}'${showsPlace ? ` (${quoteValue(place)})` : ''}`, via: '' };
  const resolves =
    normalisePath(origin.given, options.workspace) !== origin.path && options.shows(origin.path)
      ? ` resolves to ${quoteValue(origin.path)}`
      : '';
  const through =
    comparablePath(origin.path) !== place && showsPlace ? ` goes through ${quoteValue(place)}, which` : '';
  return { subject: `argument '${name}' (${quoteValue(origin.given)}${resolves})`, via: through };
}

/** One condition: how it refused (a permit's that failed) or applied (a forbid's that held). */
function conditionText(v: ConditionVerdict, options: RefusalOptions): string {
  const { condition } = v;
  const where = ` (${condition.config})`;
  const arg = condition.argument;
  if (v.value === undefined) return `argument '${arg}' is not given${where}`;
  if (condition.kind === 'path') {
    const { subject, via } = pathSubject(v, v.value, options);
    const dirs = v.holds && v.matched !== undefined ? [v.matched] : condition.expected;
    return `${subject}${via} is ${v.holds ? '' : 'not '}under ${listOf(dirs)}${where}`;
  }
  const shown = options.sensitive(arg) ? '' : ` (${quoteValue(v.value)})`;
  if (condition.kind === 'url') {
    const host = v.host === undefined ? '' : ` has host ${quoteValue(`${v.host}:${v.port ?? ''}`)},`;
    const hostShown = options.sensitive(arg) ? '' : host;
    return v.holds
      ? `argument '${arg}'${shown}${hostShown} matching ${listOf(condition.expected)}${where}`
      : `argument '${arg}'${shown}${hostShown} not matching ${listOf(condition.expected)}${where}`;
  }
  const values = condition.expected.map((e) => quoteValue(e, 40));
  return `argument '${arg}'${shown} is ${v.holds ? '' : 'not '}one of ${listOf(values)}${where}`;
}

function grantText(verdict: GrantVerdict, options: RefusalOptions): string {
  const { grant, conditions } = verdict;
  if (conditions.length === 0)
    return grant.effect === 'forbid'
      ? `tool '${options.tool}' is denied (${grant.config})`
      : `${grant.config} does not admit it`;
  const shown = conditions.slice(0, MAX_CONDITIONS).map((c) => conditionText(c, options));
  const more = conditions.length > MAX_CONDITIONS ? ` and ${conditions.length - MAX_CONDITIONS} more conditions` : '';
  return `${shown.join(' and ')}${more}`;
}

function bounded(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}

/** The refusal in words, or null when the explanation has none (the caller keeps the engine's reason). */
export function describeRefusal(explanation: CallDenialExplanation, options: RefusalOptions): string | null {
  if (explanation.kind === 'unexplained') return null;
  if (explanation.kind === 'forbidden') {
    const parts = explanation.forbids.slice(0, MAX_GRANTS).map((f) => grantText(f, options));
    const others = explanation.others
      .slice(0, MAX_GRANTS - parts.length)
      .map((id) => `Cedar policy ${quoteValue(id, 128)} forbids it`);
    const all = [...parts, ...others];
    const total = explanation.forbids.length + explanation.others.length;
    if (all.length === 0) return null;
    return bounded(`${all.join('; ')}${total > all.length ? `; and ${total - all.length} more denies` : ''}`);
  }
  const { grants } = explanation;
  const parts = grants.slice(0, MAX_GRANTS).map((g) => grantText(g, options));
  if (grants.length === 1) return bounded(parts[0] ?? '');
  const more = grants.length > MAX_GRANTS ? `; and ${grants.length - MAX_GRANTS} more grants of this tool` : '';
  return bounded(`no grant admits it: ${parts.join('; ')}${more}`);
}
