/**
 * Redaction of known secret values (SEC-01): every form in which a value can travel as text — as
 * is, JSON-escaped, URL-encoded, hex (either case), and base64 / base64url at each of the three
 * byte alignments it can have inside a longer encoded blob — is found and replaced by
 * `[redacted:NAME]`. One combined regular expression (longest forms first) scans the text once.
 *
 * `stream()` redacts text that arrives in chunks (a value split across two chunks is still
 * found): it holds back the last `longest form − 1` characters of each chunk until the next one.
 *
 * Values shorter than MIN_REDACTED_CHARS are redacted only as they are (their encodings would
 * match ordinary text too often); base64 forms shorter than that are skipped for the same reason.
 */

/** A value shorter than this is matched only verbatim. */
export const MIN_REDACTED_CHARS = 8;

export interface KnownSecret {
  /** Shown in the replacement (`[redacted:NAME]`) and the finding: never the value. */
  readonly name: string;
  readonly value: string;
}

/** One redaction: which secret, in which form, where in the text it was found (before replacement). */
export interface RedactionHit {
  readonly name: string;
  readonly form: SecretForm;
  readonly index: number;
}

export type SecretForm = 'raw' | 'json' | 'url' | 'hex' | 'base64' | 'base64url';

export interface RedactionResult {
  readonly text: string;
  readonly hits: readonly RedactionHit[];
}

export class SecretRedactor {
  readonly #pattern: RegExp | null;
  /** Each form's text → which secret and form it is. */
  readonly #forms = new Map<string, { name: string; form: SecretForm }>();
  readonly #longest: number;

  constructor(secrets: Iterable<KnownSecret>) {
    for (const secret of secrets) {
      if (secret.value.length === 0) continue;
      for (const [form, text] of formsOf(secret.value)) {
        // The first secret to claim a form keeps it (two secrets with one value: either name is true).
        if (!this.#forms.has(text)) this.#forms.set(text, { name: secret.name, form });
      }
    }
    const texts = [...this.#forms.keys()].sort((a, b) => b.length - a.length);
    this.#longest = texts[0]?.length ?? 0;
    this.#pattern = texts.length === 0 ? null : new RegExp(texts.map(escapeRegExp).join('|'), 'g');
  }

  /** True when there is nothing to redact (no secrets known). */
  get empty(): boolean {
    return this.#pattern === null;
  }

  /** The text with every known form of every secret replaced. */
  redact(text: string): RedactionResult {
    return this.#apply(text, this.#scan(text));
  }

  /** Whether `text` holds a known form of a secret (no copy made). */
  matches(text: string): boolean {
    if (this.#pattern === null) return false;
    this.#pattern.lastIndex = 0;
    const found = this.#pattern.test(text);
    this.#pattern.lastIndex = 0;
    return found;
  }

  /** A redactor for text that arrives in chunks. */
  stream(): StreamRedactor {
    return new StreamRedactor(this, Math.max(0, this.#longest - 1));
  }

  /** Where the known forms occur in `text` (left to right, not overlapping, longest first at a position). */
  scanRanges(text: string): Match[] {
    return this.#scan(text);
  }

  /** `text` with `matches` (from scanRanges of this text) replaced. */
  applyRanges(text: string, matches: readonly Match[]): RedactionResult {
    return this.#apply(text, matches);
  }

  #scan(text: string): Match[] {
    if (this.#pattern === null) return [];
    const found: Match[] = [];
    for (const m of text.matchAll(this.#pattern)) {
      const form = this.#forms.get(m[0]);
      if (form !== undefined) found.push({ index: m.index, length: m[0].length, ...form });
    }
    return found;
  }

  #apply(text: string, matches: readonly Match[]): RedactionResult {
    if (matches.length === 0) return { text, hits: [] };
    let out = '';
    let at = 0;
    for (const m of matches) {
      out += `${text.slice(at, m.index)}[redacted:${m.name}]`;
      at = m.index + m.length;
    }
    out += text.slice(at);
    return { text: out, hits: matches.map((m) => ({ name: m.name, form: m.form, index: m.index })) };
  }
}

/** A found form: where, how long, which secret. */
export interface Match {
  readonly index: number;
  readonly length: number;
  readonly name: string;
  readonly form: SecretForm;
}

/**
 * Chunked redaction: `push` returns what is safe to pass on now, `end` the rest. A form split
 * across chunks is found because the unmatched tail (shorter than the longest form) is held back
 * and scanned again with the next chunk.
 */
export class StreamRedactor {
  #held = '';
  /** Characters of the stream already passed on (for the hits' indexes). */
  #offset = 0;
  readonly #hits: RedactionHit[] = [];
  readonly #redactor: SecretRedactor;
  readonly #holdBack: number;

  constructor(redactor: SecretRedactor, holdBack: number) {
    this.#redactor = redactor;
    this.#holdBack = holdBack;
  }

  get hits(): readonly RedactionHit[] {
    return this.#hits;
  }

  push(chunk: string): string {
    const text = this.#held + chunk;
    const matches = this.#redactor.scanRanges(text);
    const lastEnd = matches.reduce((end, m) => Math.max(end, m.index + m.length), 0);
    const boundary = Math.max(lastEnd, text.length - this.#holdBack);
    this.#held = text.slice(boundary);
    return this.#emit(text.slice(0, boundary), matches, text.length - this.#held.length);
  }

  end(): string {
    const rest = this.#held;
    this.#held = '';
    return this.#emit(rest, this.#redactor.scanRanges(rest), rest.length);
  }

  #emit(part: string, matches: readonly Match[], consumed: number): string {
    const { text, hits } = this.#redactor.applyRanges(part, matches);
    for (const hit of hits) this.#hits.push({ ...hit, index: hit.index + this.#offset });
    this.#offset += consumed;
    return text;
  }
}

/** Every textual form of `value` worth matching. */
function formsOf(value: string): [SecretForm, string][] {
  const forms: [SecretForm, string][] = [['raw', value]];
  const json = JSON.stringify(value).slice(1, -1);
  if (json !== value) forms.push(['json', json]);
  if (value.length < MIN_REDACTED_CHARS) return forms;
  const url = encodeURIComponent(value);
  if (url !== value) forms.push(['url', url]);
  const bytes = Buffer.from(value, 'utf8');
  const hex = bytes.toString('hex');
  forms.push(['hex', hex], ['hex', hex.toUpperCase()]);
  for (let align = 0; align < 3; align++) {
    const padded = Buffer.concat([Buffer.alloc(align), bytes]);
    // The characters whose 6 bits all come from the value's bytes: the same wherever the value
    // sits in a longer blob at this alignment.
    const from = Math.ceil((align * 8) / 6);
    const to = Math.floor(((align + bytes.length) * 8) / 6);
    for (const [form, encoding] of [
      ['base64', 'base64'],
      ['base64url', 'base64url'],
    ] as const) {
      const core = padded.toString(encoding).slice(from, to);
      if (core.length >= MIN_REDACTED_CHARS) forms.push([form, core]);
    }
  }
  return forms;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
