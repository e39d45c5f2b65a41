/**
 * Collects every string of a scanned value with its field path and role: tool, prompt and
 * resource definitions, and returned content (tool results, resource contents, relayed
 * messages), where text that is itself JSON is parsed and walked too. Bounded in depth and
 * node count; what lies beyond is reported, not skipped silently.
 */
import type { FieldRole } from './rules.js';

/** One string to scan. */
export interface TextEntry {
  readonly path: string;
  readonly text: string;
  readonly role: FieldRole;
}

/** The strings of a value, and whether the walk stopped at its bounds. */
export interface Walked {
  readonly entries: TextEntry[];
  /** Set when the value was deeper or larger than the walk goes: the path where it stopped. */
  truncatedAt: string | null;
}

const MAX_DEPTH = 64;
const MAX_NODES = 20_000;
/** Keys whose values are schema plumbing or media types, not text a model reads. */
const SKIP_VALUES = new Set(['$schema', '$id', '$ref', 'type', 'format', 'mimeType']);
/** Binary payloads of returned content: base64 bytes of images, audio and blobs. */
const BINARY_KEYS = new Set(['data', 'blob']);

/** `base.key`, or `base["odd key"]` when the key is not a plain identifier. */
export function joinPath(base: string, key: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return base === '' ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)}]`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The strings of a definition (tool, prompt, resource): every value, and the property names of
 * schemas (`inputSchema.properties.<name>`), since a parameter's name alone can ask for context.
 */
export function walkDefinition(value: unknown, base = ''): Walked {
  const walked: Walked = { entries: [], truncatedAt: null };
  let nodes = 0;
  const visit = (node: unknown, path: string, key: string, parentKey: string, depth: number): void => {
    if (walked.truncatedAt !== null) return;
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) {
      walked.truncatedAt = path;
      return;
    }
    if (typeof node === 'string') {
      if (SKIP_VALUES.has(key) || parentKey === 'required') return;
      const inParameter =
        path.includes('.properties.') || path.startsWith('arguments[') || path.includes('.arguments[');
      const role: FieldRole = key === 'name' ? 'name' : key === 'description' && inParameter ? 'parameter' : 'text';
      walked.entries.push({ path, text: node, role });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}[${i}]`, key, key, depth + 1));
      return;
    }
    if (!isRecord(node)) return;
    for (const [childKey, child] of Object.entries(node)) {
      const childPath = joinPath(path, childKey);
      // A schema's property names are text the model reads too.
      if (key === 'properties') walked.entries.push({ path: childPath, text: childKey, role: 'name' });
      visit(child, childPath, childKey, key, depth + 1);
    }
  };
  visit(value, base, '', '', 0);
  return walked;
}

/** A string that is a JSON object or array: parsed, or undefined. */
function parseJsonText(text: string): unknown {
  const trimmed = text.trim();
  const first = trimmed[0];
  const last = trimmed[trimmed.length - 1];
  if (!((first === '{' && last === '}') || (first === '[' && last === ']'))) return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The strings of returned content: every string at any depth (content blocks, structuredContent,
 * embedded resources, `_meta`), text that parses as JSON walked as JSON (path `…text(json).key`),
 * object keys that read as text (they contain a space). Base64 payloads of images, audio and blobs
 * are skipped: they are bytes, not text the model reads as instructions.
 */
export function walkOutput(value: unknown, base = ''): Walked {
  const walked: Walked = { entries: [], truncatedAt: null };
  let nodes = 0;
  const visit = (node: unknown, path: string, depth: number, jsonDepth: number): void => {
    if (walked.truncatedAt !== null) return;
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) {
      walked.truncatedAt = path;
      return;
    }
    if (typeof node === 'string') {
      const parsed = jsonDepth < 2 ? parseJsonText(node) : undefined;
      if (parsed !== undefined && typeof parsed === 'object' && parsed !== null)
        visit(parsed, `${path}(json)`, depth + 1, jsonDepth + 1);
      else walked.entries.push({ path, text: node, role: 'text' });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}[${i}]`, depth + 1, jsonDepth));
      return;
    }
    if (!isRecord(node)) return;
    const binary = node.type === 'image' || node.type === 'audio' || 'blob' in node;
    for (const [key, child] of Object.entries(node)) {
      const childPath = joinPath(path, key);
      if (binary && BINARY_KEYS.has(key) && typeof child === 'string') continue;
      if (/\s/.test(key)) walked.entries.push({ path: childPath, text: key, role: 'text' });
      visit(child, childPath, depth + 1, jsonDepth);
    }
  };
  visit(value, base, 0, 0);
  return walked;
}
