/**
 * `warden client add | rm | ls`: puts warden's gateway into an MCP client's config file (the way
 * `docker mcp client connect` and `thv client setup` do), takes it out again, and lists where it
 * is. A change is planned first (the file's text before and after), so a dry run shows exactly
 * what would be written; applying it backs the previous file up and writes atomically.
 */
import { existsSync } from 'node:fs';
import { WardenError } from '../../core/errors.js';
import {
  CLIENT_FORMATS,
  CLIENT_IDS,
  parseWardenEntry,
  type ClientFormat,
  type ClientId,
  type ClientScope,
  type WardenEntry,
} from './formats.js';
import { entriesAt, readClientFile, withEntry, writeClientFile, type ClientFile } from './json-file.js';

/** Server names clients accept everywhere (VS Code's and Claude Code's rules). */
const ENTRY_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** How a client starts warden: an absolute program and the arguments before warden's own. */
export interface WardenLauncher {
  /** Absolute path of node (a desktop client's PATH may not have it). */
  readonly command: string;
  /** Absolute path of warden's entry script. */
  readonly script: string;
}

export interface AddRequest {
  /** A client id (checked: one of CLIENT_IDS). */
  readonly client: string;
  /** Its scope; undefined: the client's default. */
  readonly scope: string | undefined;
  readonly profile: string;
  /** Absolute, real path (resolved by the caller). */
  readonly workspace: string;
  /** Absolute path of warden.yaml. */
  readonly config: string;
  /** Absolute state dir, when the user chose one (flag or $WARDEN_STATE_DIR). */
  readonly stateDir: string | null;
  readonly name: string;
  readonly launcher: WardenLauncher;
  readonly env: NodeJS.ProcessEnv;
}

export interface RemoveRequest {
  readonly client: string;
  readonly scope: string | undefined;
  readonly workspace: string;
  readonly name: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A planned change of one client file. */
export interface ClientChange {
  readonly client: ClientId;
  readonly label: string;
  readonly scope: ClientScope;
  readonly file: string;
  readonly name: string;
  readonly action: 'added' | 'updated' | 'unchanged' | 'removed' | 'absent';
  /** The file's text before (null: no file) and after. */
  readonly before: string | null;
  readonly after: string | null;
  /** The entry written, or the one removed. */
  readonly entry: WardenEntry | null;
  readonly reload: string;
  /** @internal the file as read, for `applyChange`. */
  readonly read: ClientFile;
}

/** The default entry name: `warden`, or `warden-<profile>` so that profiles can sit side by side. */
export function defaultEntryName(profile: string): string {
  return profile === 'default' ? 'warden' : `warden-${profile}`;
}

/** Refuses an unknown client or a scope it does not have; returns its format. */
export function clientFormat(client: string, scope: string | undefined): { format: ClientFormat; scope: ClientScope } {
  if (!(CLIENT_IDS as readonly string[]).includes(client))
    throw new WardenError('USAGE', `unknown client '${client}'`, { hint: `one of: ${CLIENT_IDS.join(', ')}` });
  const format = CLIENT_FORMATS[client as ClientId];
  const chosen = (scope ?? format.scopes[0]) as ClientScope;
  if (!(format.scopes as readonly string[]).includes(chosen))
    throw new WardenError('USAGE', `${format.label} has no '${scope ?? ''}' scope`, {
      hint: `scopes of ${client}: ${format.scopes.join(', ')}`,
    });
  return { format, scope: chosen };
}

function checkName(name: string): void {
  if (!ENTRY_NAME.test(name))
    throw new WardenError('USAGE', `--name '${name.slice(0, 80)}' is not a server name clients accept`, {
      hint: 'letters, digits, - and _ (at most 64), e.g. --name warden-coding',
    });
}

/** The arguments of warden's entry: the gateway on stdio with every path absolute. */
export function entryArgs(request: AddRequest): string[] {
  return [
    request.launcher.script,
    'gateway',
    '--stdio',
    '--profile',
    request.profile,
    '--workspace',
    request.workspace,
    '--config',
    request.config,
    ...(request.stateDir === null ? [] : ['--state-dir', request.stateDir]),
    '--agent',
    request.client,
  ];
}

/** Plans adding (or updating) warden's entry; refuses to replace an entry that is not warden's. */
export function planAdd(request: AddRequest): ClientChange {
  checkName(request.name);
  const { format, scope } = clientFormat(request.client, request.scope);
  const file = readClientFile(format.file(scope, request.env, request.workspace), `${format.label}'s config`, format);
  const existing = entriesAt(file, format.serversKey).get(request.name);
  if (existing !== undefined && parseWardenEntry(existing) === null)
    throw new WardenError(
      'CLIENT_CONFIG',
      `${file.path} already has a server named '${request.name}' that is not warden's; warden leaves it untouched`,
      { hint: `choose another name with --name, e.g. --name warden-${request.profile}` },
    );
  const value = format.entry(request.launcher.command, entryArgs(request));
  const unchanged = existing !== undefined && JSON.stringify(existing) === JSON.stringify(value);
  const after = unchanged ? file.text : withEntry(file, format.serversKey, request.name, value);
  return {
    client: format.id,
    label: format.label,
    scope,
    file: file.path,
    name: request.name,
    action: unchanged ? 'unchanged' : existing === undefined ? 'added' : 'updated',
    before: file.text,
    after,
    entry: parseWardenEntry(value),
    reload: format.reload,
    read: file,
  };
}

/** Plans removing warden's entry, and only it: another server of that name is refused. */
export function planRemove(request: RemoveRequest): ClientChange {
  checkName(request.name);
  const { format, scope } = clientFormat(request.client, request.scope);
  const file = readClientFile(format.file(scope, request.env, request.workspace), `${format.label}'s config`, format);
  const existing = entriesAt(file, format.serversKey).get(request.name);
  const entry = existing === undefined ? null : parseWardenEntry(existing);
  if (existing !== undefined && entry === null)
    throw new WardenError(
      'CLIENT_CONFIG',
      `the server '${request.name}' in ${file.path} is not warden's; warden leaves it untouched`,
      { hint: "remove it with the client itself, or name warden's entry with --name" },
    );
  return {
    client: format.id,
    label: format.label,
    scope,
    file: file.path,
    name: request.name,
    action: entry === null ? 'absent' : 'removed',
    before: file.text,
    after: entry === null ? file.text : withEntry(file, format.serversKey, request.name, undefined),
    entry,
    reload: format.reload,
    read: file,
  };
}

/** Writes a planned change (nothing for 'unchanged' and 'absent'); returns the backup's path. */
export function applyChange(change: ClientChange, now?: Date): string | null {
  if (change.action === 'unchanged' || change.action === 'absent' || change.after === null) return null;
  return writeClientFile(change.read, change.after, now);
}

/** One warden entry found in a client's file. */
export interface ListedEntry {
  readonly client: ClientId;
  readonly scope: ClientScope;
  readonly file: string;
  readonly name: string;
  readonly entry: WardenEntry;
}

/** A client file `client ls` could not read (it says why instead of failing the whole listing). */
export interface UnreadableFile {
  readonly client: ClientId;
  readonly scope: ClientScope;
  readonly file: string;
  readonly problem: string;
}

/**
 * Every warden entry in every client's user file and, when `project` is given, in the project's
 * files. Files that do not exist are skipped; unreadable ones are reported, not fatal.
 */
export function listClientEntries(
  env: NodeJS.ProcessEnv,
  project: string | null,
): { entries: ListedEntry[]; unreadable: UnreadableFile[] } {
  const entries: ListedEntry[] = [];
  const unreadable: UnreadableFile[] = [];
  for (const client of CLIENT_IDS) {
    const format = CLIENT_FORMATS[client];
    for (const scope of format.scopes) {
      if (scope === 'project' && project === null) continue;
      const path = format.file(scope, env, project ?? '/');
      if (!existsSync(path)) continue;
      try {
        const file = readClientFile(path, `${format.label}'s config`, format);
        for (const [name, value] of entriesAt(file, format.serversKey)) {
          const entry = parseWardenEntry(value);
          if (entry !== null) entries.push({ client, scope, file: path, name, entry });
        }
      } catch (error) {
        unreadable.push({ client, scope, file: path, problem: (error as Error).message });
      }
    }
  }
  return { entries, unreadable };
}
