/**
 * Pins against rug pulls (SCAN-05): the canonical hash of each tool's, prompt's, resource's and
 * resource template's whole definition, kept per
 * server in the state dir (`<state>/pins/<server>.<id>.json`, out of every sandbox's sight; the id
 * is a digest of how the server is started — its command and arguments, or its URL — so two
 * configs that give one name to different servers never share pins). A definition that no
 * longer hashes to its pin — or that appeared after its server's definitions of that kind were
 * pinned — is hidden until `warden tools approve` pins it again. Resources are pinned by URI and
 * templates by URI template, in one map.
 *
 * One file per server, so runs of different servers never write the same file; the first-sight
 * pin is created exclusively (two runs seeing a server for the first time at once keep the
 * first pin), approvals replace the file whole (write, fsync, rename).
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from '../core/canonical-json.js';
import { SERVER_NAME } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';

/** A pin file larger than this is refused (a server's definitions are bounded by the message cap). */
const MAX_PIN_FILE_BYTES = 32 * 1024 * 1024;
/** Definitions of one kind per server a pin file may hold. */
const MAX_PINNED = 4096;

const pinnedToolSchema = z.strictObject({
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  /** The definition as pinned, so `warden tools diff` can show what changed. */
  definition: z.unknown(),
  /** 'first-sight' or 'approved by <login>'. */
  pinned_by: z.string().max(200),
  at: z.string().max(40),
  /** Approved by a person who saw the scanner's findings: they no longer hide it (`warden tools approve`). */
  reviewed: z.boolean(),
});

const pinMapSchema = (what: string, maxKey: number) =>
  z.record(z.string().max(maxKey), pinnedToolSchema).refine((t) => Object.keys(t).length <= MAX_PINNED, {
    message: `more than ${MAX_PINNED} ${what}`,
  });

const serverPinsSchema = z.strictObject({
  version: z.literal(1),
  server: z.string().regex(SERVER_NAME),
  /** How the server is started (command and arguments, or URL), as the config says. */
  identity: z.string().max(70_000),
  tools: pinMapSchema('tools', 256),
  /** Absent in files written before prompts and resources were pinned: pinned on first sight then. */
  prompts: pinMapSchema('prompts', 256).optional(),
  resources: pinMapSchema('resources', 8192).optional(),
});

export type PinnedTool = z.infer<typeof pinnedToolSchema>;
export type ServerPins = z.infer<typeof serverPinsSchema>;

/** What can be pinned; a resource template is a `resource` named by its URI template. */
export type PinKind = 'tool' | 'prompt' | 'resource';

/** The pin file's map for each kind. */
const FIELD = { tool: 'tools', prompt: 'prompts', resource: 'resources' } as const satisfies Record<
  PinKind,
  keyof ServerPins
>;

/** A definition as offered now, ready to pin. */
export interface OfferedTool {
  readonly name: string;
  readonly hash: string;
  readonly definition: unknown;
  /** Default 'tool'. */
  readonly kind?: PinKind;
}

/** A server's pins of one kind; undefined when that kind was never pinned (an older file). */
export function pinsOf(pins: ServerPins | null, kind: PinKind): Readonly<Record<string, PinnedTool>> | undefined {
  return pins === null ? undefined : pins[FIELD[kind]];
}

/** `sha256:<hex>` of the definition's RFC 8785 canonical JSON: key order and spacing do not change it, anything else does. */
export function definitionHash(definition: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(definition)).digest('hex')}`;
}

export class PinStore {
  readonly #dir: string;
  readonly #identity: (server: string) => string;

  /**
   * `dir`: `<state>/pins`, created (0700) on the first write. `identity`: how a server is started,
   * as the config says (see serverIdentity).
   */
  constructor(dir: string, identity: (server: string) => string) {
    this.#dir = dir;
    this.#identity = identity;
  }

  /** The server's pins, or null when none were made. A file that cannot be read or parsed stops the start (fail closed). */
  read(server: string): ServerPins | null {
    const path = this.#path(server);
    let text: string;
    try {
      if (statSync(path).size > MAX_PIN_FILE_BYTES) throw new Error(`larger than ${MAX_PIN_FILE_BYTES} bytes`);
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw unusable(path, (error as Error).message);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw unusable(path, `not JSON: ${(error as Error).message}`);
    }
    const checked = serverPinsSchema.safeParse(parsed);
    if (!checked.success) throw unusable(path, checked.error.issues[0]?.message ?? 'not a pin file');
    if (checked.data.server !== server || checked.data.identity !== this.#identity(server))
      throw unusable(path, `it pins another server ('${checked.data.server}')`);
    return checked.data;
  }

  /**
   * Pins a server's definitions on first sight. When another run pinned them meanwhile, its pins
   * win and are returned (never overwritten: a second run must not re-pin what the first one
   * saw) — except kinds that file never pinned (written before prompts and resources were
   * pinned), which are pinned now. `kinds`: the kinds judged (each gets a map, empty or not).
   */
  pinFirstSight(
    server: string,
    items: readonly OfferedTool[],
    now = new Date(),
    kinds: readonly PinKind[] = ['tool'],
  ): ServerPins {
    const pins = this.#build(server, null, items, kinds, 'first-sight', false, now);
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    let fd: number;
    try {
      fd = openSync(this.#path(server), 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw unusable(this.#path(server), (error as Error).message);
      const existing = this.read(server);
      if (existing === null) throw unusable(this.#path(server), 'vanished while being pinned');
      const missing = kinds.filter((kind) => existing[FIELD[kind]] === undefined);
      if (missing.length === 0) return existing;
      const added = this.#build(
        server,
        existing,
        items.filter((i) => missing.includes(i.kind ?? 'tool')),
        missing,
        'first-sight',
        false,
        now,
      );
      this.#replace(server, added);
      return added;
    }
    try {
      writeSync(fd, JSON.stringify(pins, null, 1) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return pins;
  }

  /**
   * Pins (or re-pins) the given definitions as reviewed by `by`, keeping the server's other pins;
   * `drop` names pinned ones to forget (ones the server no longer offers). Replaces the file whole.
   */
  approve(
    server: string,
    items: readonly OfferedTool[],
    by: string,
    drop: readonly (string | { readonly kind: PinKind; readonly name: string })[] = [],
    now = new Date(),
  ): ServerPins {
    const existing = this.read(server);
    const dropped = drop.map((d) => (typeof d === 'string' ? { kind: 'tool' as const, name: d } : d));
    const base: ServerPins | null =
      existing === null
        ? null
        : {
            ...existing,
            ...Object.fromEntries(
              (Object.keys(FIELD) as PinKind[])
                .filter((kind) => existing[FIELD[kind]] !== undefined)
                .map((kind) => [
                  FIELD[kind],
                  Object.fromEntries(
                    Object.entries(existing[FIELD[kind]] ?? {}).filter(
                      ([name]) => !dropped.some((d) => d.kind === kind && d.name === name),
                    ),
                  ),
                ]),
            ),
          };
    const kinds = [...new Set(items.map((i) => i.kind ?? 'tool'))];
    const pins = this.#build(server, base, items, kinds, `approved by ${by}`.slice(0, 200), true, now);
    this.#replace(server, pins);
    return pins;
  }

  /** Writes a server's pin file whole: a temporary file, fsync, rename. */
  #replace(server: string, pins: ServerPins): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const path = this.#path(server);
    const temp = `${path}.${process.pid}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(pins, null, 1) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  }

  /**
   * `base` with `items` pinned over it; each kind in `kinds` gets a map (empty when nothing of it
   * is offered), so a definition of that kind that appears later is new.
   */
  #build(
    server: string,
    base: ServerPins | null,
    items: readonly OfferedTool[],
    kinds: readonly PinKind[],
    pinnedBy: string,
    reviewed: boolean,
    now: Date,
  ): ServerPins {
    const maps: Partial<Record<PinKind, Record<string, PinnedTool>>> = {};
    for (const kind of Object.keys(FIELD) as PinKind[]) {
      const existing = base?.[FIELD[kind]];
      if (existing !== undefined || kinds.includes(kind)) maps[kind] = { ...existing };
    }
    for (const item of items) {
      const map = (maps[item.kind ?? 'tool'] ??= {});
      map[item.name] = {
        hash: item.hash,
        definition: item.definition,
        pinned_by: pinnedBy,
        at: now.toISOString(),
        reviewed,
      };
    }
    for (const kind of Object.keys(FIELD) as PinKind[])
      if (Object.keys(maps[kind] ?? {}).length > MAX_PINNED)
        throw new WardenError(
          'PINS_UNUSABLE',
          `server '${server}' offers more than ${MAX_PINNED} ${FIELD[kind]} to pin`,
          {
            hint: 'grant fewer of them, or ask its maintainers why it lists so many',
          },
        );
    return {
      version: 1,
      server,
      identity: this.#identity(server),
      tools: maps.tool ?? {},
      ...(maps.prompt === undefined ? {} : { prompts: maps.prompt }),
      ...(maps.resource === undefined ? {} : { resources: maps.resource }),
    };
  }

  #path(server: string): string {
    if (!SERVER_NAME.test(server)) throw new TypeError(`not a server name: ${server}`);
    const id = createHash('sha256').update(this.#identity(server)).digest('hex').slice(0, 16);
    return join(this.#dir, `${server}.${id}.json`);
  }
}

/**
 * A server's identity for its pins: its command and arguments, or its URL, as warden.yaml gives
 * them, and the requests the profile lets it relay (a server may offer other tools when it is
 * offered sampling or elicitation, as server-everything does).
 */
export function serverIdentity(
  server: {
    readonly command?: string | undefined;
    readonly args?: readonly string[] | undefined;
    readonly url?: string | undefined;
  },
  relay: readonly string[] = [],
): string {
  const started =
    server.url === undefined ? { command: server.command ?? '', args: server.args ?? [] } : { url: server.url };
  return canonicalJson(relay.length === 0 ? started : { ...started, relay: [...relay].sort() });
}

function unusable(path: string, why: string): WardenError {
  return new WardenError('PINS_UNUSABLE', `the tool pins in ${path} cannot be used: ${why.slice(0, 300)}`, {
    hint: `restore the file from a backup, or remove it and approve the server's tools again (\`warden tools approve\`); until then warden does not start the server's tools`,
  });
}
