/**
 * Which arguments of a tool hold paths, read from its inputSchema (GW-12). A path condition must
 * cover every one of them, so the gateway needs the whole list, under whatever names and shapes
 * the server chose: `path`, `paths: string[]`, `source` and `destination`, `files[].path`.
 *
 * An argument holds a path when it is a string (or an array of strings, at any depth) and its
 * name or description says so (see PATH_WORDS). Arguments are named by their keys joined with '.'
 * (`files.path`); array levels do not appear. The walk follows `properties`, `items`,
 * `prefixItems`, `anyOf`/`oneOf`/`allOf` and local `$ref`s, and is bounded; a schema it cannot
 * walk whole makes the tool's path arguments unknown, which the caller treats as not checkable.
 * Maps (`additionalProperties`, `patternProperties`) are not looked into: a path inside one has no
 * name a condition could use.
 */

/** The path arguments of one tool, or why they cannot be known. */
export type ToolArguments =
  | {
      readonly ok: true;
      /** Path arguments found by name or description, as keys (`path`, `files.path`). */
      readonly paths: readonly string[];
      /** Every argument key the schema declares, nested ones included. */
      readonly keys: ReadonlySet<string>;
      /** The top-level argument names the schema declares. */
      readonly topLevel: ReadonlySet<string>;
    }
  | { readonly ok: false; readonly reason: string };

const MAX_DEPTH = 8;
const MAX_NODES = 2000;
const MAX_REF_HOPS = 64;

/**
 * Words that make an argument a path when they end its name (`filePath`, `src_dir`, `paths`,
 * `source`): the last word decides, so `fileContent` or `sourceText` are not paths.
 */
const PATH_WORDS = new Set([
  'path',
  'paths',
  'file',
  'files',
  'filename',
  'filenames',
  'filepath',
  'filepaths',
  'dir',
  'dirs',
  'directory',
  'directories',
  'folder',
  'folders',
  'root',
  'roots',
  'cwd',
  'source',
  'sources',
  'src',
  'destination',
  'destinations',
  'dest',
  'dst',
  'target',
  'targets',
]);
/** A description that speaks of a path or file name. */
const PATH_DESCRIPTION = /\b(?:paths?|file ?names?|pathnames?)\b/i;

/** The words of an argument name: camelCase, snake_case and kebab-case split, lower case. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
}

/** Whether an argument with this name holds a path, by its name alone. */
export function nameSaysPath(name: string): boolean {
  const w = words(name);
  const last = w[w.length - 1] ?? '';
  if (PATH_WORDS.has(last)) return true;
  // `file_name`, `dirName`, `folder_names`.
  const before = w[w.length - 2] ?? '';
  return (last === 'name' || last === 'names') && ['file', 'dir', 'directory', 'folder', 'path'].includes(before);
}

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function allowsString(node: Schema): boolean {
  const type = node['type'];
  if (type === 'string') return true;
  if (Array.isArray(type)) return type.includes('string');
  // No type: a string is allowed unless the node says it is something else.
  return type === undefined && node['properties'] === undefined && node['items'] === undefined;
}

/** Finds the path arguments and declared keys of a tool's inputSchema. */
export function toolArguments(inputSchema: unknown): ToolArguments {
  if (!isSchema(inputSchema)) return { ok: false, reason: 'its inputSchema is not an object' };
  const paths = new Set<string>();
  const keys = new Set<string>();
  const topLevel = new Set<string>();
  let nodes = 0;
  let failure: string | null = null;

  const resolveRef = (node: Schema): Schema | null => {
    let current = node;
    for (let hops = 0; typeof current['$ref'] === 'string'; hops++) {
      const ref = current['$ref'];
      if (hops >= MAX_REF_HOPS || !ref.startsWith('#')) return null;
      let target: unknown = inputSchema;
      for (const raw of ref
        .slice(1)
        .split('/')
        .filter((p) => p !== '')) {
        const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        target = isSchema(target) && Object.hasOwn(target, part) ? target[part] : undefined;
      }
      if (!isSchema(target)) return null;
      current = target;
    }
    return current;
  };

  /** `key`: the argument key so far ('' at the top); `pathy`: the name or description said path. */
  const walk = (raw: unknown, key: string, pathy: boolean, depth: number): void => {
    if (failure !== null || raw === true || raw === undefined) return;
    if (!isSchema(raw)) return;
    if (++nodes > MAX_NODES) {
      failure = `its inputSchema has more than ${MAX_NODES} parts`;
      return;
    }
    const node = resolveRef(raw);
    if (node === null) {
      failure = `its inputSchema has a $ref warden cannot follow (${String(raw['$ref']).slice(0, 100)})`;
      return;
    }
    if (depth > MAX_DEPTH) {
      failure = `its inputSchema nests arguments deeper than ${MAX_DEPTH} levels`;
      return;
    }
    const describedPath = typeof node['description'] === 'string' && PATH_DESCRIPTION.test(node['description']);
    const here = pathy || describedPath;
    for (const combinator of ['anyOf', 'oneOf', 'allOf'] as const) {
      const branches = node[combinator];
      if (Array.isArray(branches)) for (const branch of branches) walk(branch, key, here, depth + 1);
    }
    const items = node['items'];
    if (Array.isArray(items)) for (const item of items) walk(item, key, here, depth + 1);
    else walk(items, key, here, depth + 1);
    const prefixItems = node['prefixItems'];
    if (Array.isArray(prefixItems)) for (const item of prefixItems) walk(item, key, here, depth + 1);
    const properties = node['properties'];
    if (isSchema(properties)) {
      for (const [name, child] of Object.entries(properties)) {
        const childKey = key === '' ? name : `${key}.${name}`;
        keys.add(childKey);
        if (key === '') topLevel.add(name);
        walk(child, childKey, nameSaysPath(name), depth + 1);
      }
    }
    if (key !== '' && here && allowsString(node)) paths.add(key);
  };

  walk(inputSchema, '', false, 0);
  if (failure !== null) return { ok: false, reason: failure };
  return { ok: true, paths: [...paths].sort(), keys, topLevel };
}
