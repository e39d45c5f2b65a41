/**
 * A client's JSON config file, edited the way a careful person would: read bounded, parsed as
 * the client parses it (strict JSON, or JSON with comments for VS Code-based editors), one entry
 * changed in place so that everything else in the file — other servers, unrelated settings,
 * comments, layout — stays byte for byte, then written atomically (temporary file + rename, same
 * mode and owner) after a backup of the previous file.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  copyFileSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  applyEdits,
  format,
  getNodeValue,
  modify,
  parseTree,
  printParseErrorCode,
  type Node,
  type ParseError,
} from 'jsonc-parser';
import { WardenError } from '../../core/errors.js';

/** Larger than any real client config (Claude Code's ~/.claude.json grows with its projects). */
export const MAX_CLIENT_FILE_BYTES = 16 * 1024 * 1024;

/** How the client reads its file. */
export interface JsonDialect {
  /** Comments and trailing commas are accepted (VS Code's `mcp.json` is JSON with comments). */
  readonly comments: boolean;
}

/** A client file as read: where it is, what it holds, and the text every edit starts from. */
export interface ClientFile {
  /** The path as the client names it (shown to the user). */
  readonly path: string;
  /** Where it is written: the target of a symbolic link (dotfile managers link these files). */
  readonly realPath: string;
  /** The text, or null when the file does not exist yet. */
  readonly text: string | null;
  /** The parsed document (an object), or null when the file does not exist. */
  readonly tree: Node | null;
  /** What the file is called in messages, e.g. "Claude Desktop's config". */
  readonly label: string;
}

function clientError(message: string, hint: string): WardenError {
  return new WardenError('CLIENT_CONFIG', message, { hint });
}

/** Reads and parses a client file; a file that is not what the client accepts is refused, untouched. */
export function readClientFile(path: string, label: string, dialect: JsonDialect): ClientFile {
  const realPath = followLink(path, label);
  const text = readBounded(realPath, label);
  if (text === null) return { path, realPath, text: null, tree: null, label };
  if (text.trim() === '') {
    // Clients write `{}` at least; an empty file is one a person truncated: start it anew.
    return { path, realPath, text, tree: null, label };
  }
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, {
    disallowComments: !dialect.comments,
    allowTrailingComma: dialect.comments,
  });
  if (errors.length > 0 || tree === undefined) {
    const first = errors[0];
    const at = first === undefined ? '' : ` at ${position(text, first.offset)} (${describeParseError(first)})`;
    throw clientError(
      `${label} ${path} is not valid ${dialect.comments ? 'JSON with comments' : 'JSON'}${at}; warden leaves it untouched`,
      dialect.comments
        ? 'fix the file (or move it aside) and run the command again'
        : 'the client reads this file as strict JSON (no comments, no trailing commas), so it is broken for the client too: fix it, then run the command again',
    );
  }
  if (tree.type !== 'object')
    throw clientError(
      `${label} ${path} does not hold a JSON object; warden leaves it untouched`,
      'fix the file or move it aside',
    );
  refuseDuplicateKeys(tree, path, label, text);
  return { path, realPath, text, tree, label };
}

/** The object at `key` of the document (e.g. `mcpServers`), as a map of entries; refused when it is not an object. */
export function entriesAt(file: ClientFile, key: string): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  const node = file.tree === null ? undefined : childOf(file.tree, key);
  if (node === undefined) return entries;
  if (node.type !== 'object')
    throw clientError(
      `'${key}' in ${file.label} ${file.path} is not an object; warden leaves the file untouched`,
      `'${key}' maps server names to servers: fix it, then run the command again`,
    );
  for (const property of node.children ?? []) {
    const [name, value] = property.children ?? [];
    if (name !== undefined && typeof name.value === 'string')
      entries.set(name.value, value === undefined ? undefined : (getNodeValue(value) as unknown));
  }
  return entries;
}

/**
 * The file's text with `key.name` set to `value` (or removed when `value` is undefined). Only
 * the entry's own text changes: inserted text is laid out like the file around it.
 */
export function withEntry(file: ClientFile, key: string, name: string, value: unknown): string {
  if (file.tree === null || file.text === null) {
    if (value === undefined) return file.text ?? '';
    return `${JSON.stringify({ [key]: { [name]: value } }, null, 2)}\n`;
  }
  const text = file.text;
  const layout = detectLayout(text);
  const edits = modify(text, [key, name], value, {}).sort((a, b) => b.offset - a.offset);
  let out = text;
  for (const edit of edits) {
    out = out.slice(0, edit.offset) + edit.content + out.slice(edit.offset + edit.length);
    // Lay out only what was inserted, and not at all in a file written on one line.
    if (edit.content !== '' && layout !== null)
      out = applyEdits(out, format(out, { offset: edit.offset, length: edit.content.length }, layout));
  }
  return out;
}

/**
 * Writes `text` in place of the file: a backup of the previous file first, then a temporary file
 * beside it (same mode and owner), fsynced and renamed over it. Refused when the file changed
 * since it was read (a running client may be rewriting it). Returns the backup's path.
 */
export function writeClientFile(file: ClientFile, text: string, now: Date = new Date()): string | null {
  const dir = dirname(file.realPath);
  const previous = file.text === null ? null : statSync(file.realPath);
  if (previous === null) makeParents(dir, file);
  const backup = previous === null ? null : backupOf(file, previous, now);
  const temp = join(dir, `.${basename(file.realPath)}.warden-${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL with an unguessable name: nothing can be planted at the temporary path first.
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, previous?.mode ?? 0o644);
  try {
    try {
      const owner = previous ?? statSync(dir);
      if (isRoot() && fstatSync(fd).uid !== owner.uid) fchownSync(fd, owner.uid, owner.gid);
      writeAll(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (previous !== null) chmodSync(temp, previous.mode & 0o7777);
    if (readBounded(file.realPath, file.label) !== file.text)
      throw clientError(
        `${file.label} ${file.path} changed while warden was editing it; nothing was written`,
        'close the client if it is running (Claude Code rewrites ~/.claude.json as it runs), then run the command again',
      );
    renameSync(temp, file.realPath);
  } catch (error) {
    rmSync(temp, { force: true });
    if (error instanceof WardenError) throw error;
    throw clientError(
      `cannot write ${file.label} ${file.path}: ${(error as Error).message}`,
      'check the file and its directory permissions',
    );
  }
  syncDir(dir);
  return backup;
}

/** Follows a symbolic link at `path` only to a file of the link's own owner (a dotfiles link, not a planted one). */
function followLink(path: string, label: string): string {
  let link;
  try {
    link = lstatSync(path);
  } catch {
    return path;
  }
  if (!link.isSymbolicLink()) return path;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw clientError(`${label} ${path} is a symbolic link to nothing`, 'remove the link or point it at the real file');
  }
  if (statSync(real).uid !== link.uid)
    throw clientError(
      `${label} ${path} is a symbolic link to ${real}, which belongs to another user; warden does not follow it`,
      'replace the link with the file itself',
    );
  return real;
}

function readBounded(path: string, label: string): string | null {
  let fd: number;
  try {
    if (!statSync(path).isFile()) throw clientError(`${label} ${path} is not a regular file`, 'move it aside');
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (error instanceof WardenError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw clientError(`cannot read ${label} ${path}: ${(error as Error).message}`, 'check the file permissions');
  }
  try {
    const buffer = Buffer.alloc(MAX_CLIENT_FILE_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_CLIENT_FILE_BYTES)
      throw clientError(
        `${label} ${path} is larger than ${MAX_CLIENT_FILE_BYTES} bytes; warden leaves it untouched`,
        'check that this is the right file',
      );
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length)).replace(/^\uFEFF/, '');
    } catch {
      throw clientError(`${label} ${path} is not UTF-8; warden leaves it untouched`, 'save the file as UTF-8');
    }
  } finally {
    closeSync(fd);
  }
}

function backupOf(file: ClientFile, previous: { mode: number; uid: number; gid: number }, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  for (let n = 1; n < 100; n++) {
    const path = `${file.realPath}.warden-backup-${stamp}${n === 1 ? '' : `-${n}`}`;
    try {
      copyFileSync(file.realPath, path, constants.COPYFILE_EXCL);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw clientError(
        `cannot back up ${file.label} ${file.path}: ${(error as Error).message}`,
        'check the directory permissions',
      );
    }
    chmodSync(path, previous.mode & 0o7777);
    if (isRoot()) chownSync(path, previous.uid, previous.gid);
    return path;
  }
  throw clientError(`too many backups of ${file.path} this second`, 'try again');
}

/** Creates the client's directory (e.g. ~/.cursor), owned like the directory it is created in. */
function makeParents(dir: string, file: ClientFile): void {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      statSync(d);
      break;
    } catch {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o755 });
      const parent = statSync(dirname(d));
      if (isRoot()) chownSync(d, parent.uid, parent.gid);
    } catch (error) {
      throw clientError(
        `cannot create ${d} for ${file.label}: ${(error as Error).message}`,
        'check the directory permissions',
      );
    }
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // the rename is done; a directory that cannot be fsynced (some filesystems) changes nothing
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Two keys of one object: the client reads the last, an edit would change the first. Refused. */
function refuseDuplicateKeys(node: Node, path: string, label: string, text: string): void {
  if (node.type === 'object') {
    const seen = new Set<string>();
    for (const property of node.children ?? []) {
      const key = property.children?.[0];
      if (key !== undefined && typeof key.value === 'string') {
        if (seen.has(key.value))
          throw clientError(
            `${label} ${path} has the key '${key.value}' twice (at ${position(text, key.offset)}); warden leaves it untouched`,
            'remove one of them',
          );
        seen.add(key.value);
      }
    }
  }
  for (const child of node.children ?? []) refuseDuplicateKeys(child, path, label, text);
}

function childOf(object: Node, key: string): Node | undefined {
  for (const property of object.children ?? []) {
    const [name, value] = property.children ?? [];
    if (name?.value === key) return value;
  }
  return undefined;
}

/** Indentation and line ends of a file laid out over several lines, or null for a one-line file. */
function detectLayout(text: string): { tabSize: number; insertSpaces: boolean; eol: string } | null {
  if (!text.trim().includes('\n')) return null;
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return indent.startsWith('\t')
    ? { tabSize: 1, insertSpaces: false, eol }
    : { tabSize: indent.length, insertSpaces: true, eol };
}

function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

function describeParseError(error: ParseError): string {
  const code = printParseErrorCode(error.error);
  return code === 'InvalidCommentToken' ? 'a comment' : code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
