/**
 * GW-12: which arguments of a tool hold paths (path-schema.ts), and whether the grants that name
 * a tool can be checked on it (tool-plan.ts). The schemas are server-filesystem's own (2026.8),
 * as its tools/list gives them, plus shapes other servers use.
 */
import { describe, expect, it } from 'vitest';
import type { ConditionalGrant } from '../policy/index.js';
import { nameSaysPath, toolArguments } from './path-schema.js';
import { planTool, type PlanResult } from './tool-plan.js';

const str = { type: 'string' };
const FS = {
  read_text_file: {
    type: 'object',
    properties: { path: str, tail: { type: 'number', description: 'last N lines of the file' } },
    required: ['path'],
  },
  read_multiple_files: {
    type: 'object',
    properties: {
      paths: { type: 'array', items: str, description: 'Array of file paths to read.' },
    },
  },
  write_file: { type: 'object', properties: { path: str, content: str } },
  edit_file: {
    type: 'object',
    properties: {
      path: str,
      edits: { type: 'array', items: { type: 'object', properties: { oldText: str, newText: str } } },
      dryRun: { type: 'boolean' },
    },
  },
  move_file: { type: 'object', properties: { source: str, destination: str } },
  search_files: {
    type: 'object',
    properties: { path: str, pattern: str, excludePatterns: { type: 'array', items: str } },
  },
  list_allowed_directories: { type: 'object', properties: {} },
} as const;

describe('toolArguments: path arguments from an inputSchema (GW-12)', () => {
  it('GW-12 finds paths under every name and shape server-filesystem uses, and nothing else', () => {
    const paths = (schema: unknown) => {
      const found = toolArguments(schema);
      if (!found.ok) throw new Error(found.reason);
      return found.paths;
    };
    expect(paths(FS.read_text_file)).toEqual(['path']);
    expect(paths(FS.read_multiple_files)).toEqual(['paths']);
    expect(paths(FS.write_file)).toEqual(['path']);
    expect(paths(FS.edit_file)).toEqual(['path']);
    expect(paths(FS.move_file)).toEqual(['destination', 'source']);
    expect(paths(FS.search_files)).toEqual(['path']);
    expect(paths(FS.list_allowed_directories)).toEqual([]);
  });

  it('GW-12 finds nested paths, paths behind $ref and anyOf, and paths named only by their description', () => {
    const schema = {
      type: 'object',
      $defs: { file: { type: 'object', properties: { filePath: str, body: str } } },
      properties: {
        files: { type: 'array', items: { $ref: '#/$defs/file' } },
        options: {
          type: 'object',
          properties: { cwd: { anyOf: [str, { type: 'null' }] }, depth: { type: 'integer' } },
        },
        where: { type: 'string', description: 'The path of the repository' },
        label: { type: 'string', description: 'A title for the file' },
      },
    };
    const found = toolArguments(schema);
    expect(found).toMatchObject({ ok: true, paths: ['files.filePath', 'options.cwd', 'where'] });
    if (found.ok) {
      expect([...found.topLevel].sort()).toEqual(['files', 'label', 'options', 'where']);
      expect(found.keys.has('files.body')).toBe(true);
    }
  });

  it('reads names the way people write them', () => {
    for (const name of [
      'path',
      'paths',
      'filePath',
      'file_path',
      'src_dir',
      'outputDirectory',
      'file_name',
      'root',
      'cwd',
      'target',
    ])
      expect(nameSaysPath(name), name).toBe(true);
    for (const name of [
      'content',
      'fileContent',
      'sourceText',
      'pattern',
      'excludePatterns',
      'message',
      'name',
      'pathPrefixLength',
    ])
      expect(nameSaysPath(name), name).toBe(false);
  });

  it('GW-12 a schema it cannot walk whole makes the path arguments unknown', () => {
    expect(toolArguments({ type: 'object', properties: { x: { $ref: 'https://example.com/s.json' } } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/\$ref/),
    });
    expect(toolArguments({ type: 'object', properties: { x: { $ref: '#/$defs/missing' } } })).toMatchObject({
      ok: false,
    });
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 12; i++) deep = { type: 'object', properties: { a: deep } };
    expect(toolArguments(deep)).toMatchObject({ ok: false, reason: expect.stringMatching(/deeper/) });
    // A recursive schema ends at the depth bound instead of looping.
    expect(toolArguments({ type: 'object', properties: { node: { $ref: '#' } } })).toMatchObject({ ok: false });
    expect(toolArguments('nope')).toMatchObject({ ok: false });
  });
});

function grant(over: Partial<ConditionalGrant>): ConditionalGrant {
  return {
    id: 'p.allow[0]',
    effect: 'permit',
    server: 'files',
    tools: ['*'],
    conditions: {},
    dirs: ['/ws'],
    pathArguments: null,
    ...over,
  };
}
const refusal = (result: PlanResult) => {
  if (result.ok) throw new Error('the plan was accepted');
  return result;
};

describe('planTool: is a grant checkable on a tool (GW-12)', () => {
  it('GW-12 a condition on path does not cover read_multiple_files (paths) or move_file (source, destination)', () => {
    const g = grant({ conditions: { path: 'path' } });
    expect(planTool([g], 'files', 'read_text_file', FS.read_text_file)).toMatchObject({
      ok: true,
      plan: { paths: ['path'], pathConditions: ['path'] },
    });
    expect(refusal(planTool([g], 'files', 'read_multiple_files', FS.read_multiple_files))).toMatchObject({
      grant: 'p.allow[0]',
      reason: expect.stringContaining(
        "tool 'read_multiple_files' has no argument 'path' (its path arguments: 'paths')",
      ),
      fix: expect.stringContaining("'*'"),
    });
    expect(refusal(planTool([g], 'files', 'list_allowed_directories', FS.list_allowed_directories)).reason).toMatch(
      /has no argument 'path'.*never hold/,
    );
    // A deny that could never apply is refused the same way.
    const deny = grant({ id: 'p.deny[0]', effect: 'forbid', conditions: { path: 'path' } });
    expect(refusal(planTool([deny], 'files', 'move_file', FS.move_file)).reason).toMatch(/never apply/);
  });

  it('GW-12 a tool with a path argument the conditions do not cover is not checkable, naming the argument', () => {
    const g = grant({ conditions: { source: 'path' } });
    expect(refusal(planTool([g], 'files', 'move_file', FS.move_file))).toMatchObject({
      reason: "tool 'move_file' takes a path in 'destination', which the conditions of p.allow[0] do not cover",
      fix: expect.stringContaining('when: {destination: {under: [...]}}'),
    });
    const both = grant({ conditions: { source: 'path', destination: 'path' } });
    expect(planTool([both], 'files', 'move_file', FS.move_file)).toMatchObject({
      ok: true,
      plan: { paths: ['destination', 'source'], pathConditions: ['destination', 'source'] },
    });
  });

  it("GW-12 '*' covers every path argument, and a tool with none", () => {
    const g = grant({ conditions: { '*': 'path' } });
    expect(planTool([g], 'files', 'move_file', FS.move_file)).toMatchObject({
      ok: true,
      plan: { paths: ['destination', 'source'], pathConditions: ['*'] },
    });
    const plan = planTool([g], 'files', 'list_allowed_directories', FS.list_allowed_directories);
    expect(plan).toMatchObject({ ok: true, plan: { paths: [], pathConditions: ['*'] } });
    if (plan.ok) expect([...(plan.plan.declared ?? ['any'])]).toEqual([]);
  });

  it('GW-12 path_arguments replaces what the schema says; a schema that cannot be read needs it', () => {
    const g = grant({ conditions: { '*': 'path' }, pathArguments: ['source'] });
    expect(planTool([g], 'files', 'move_file', FS.move_file)).toMatchObject({ ok: true, plan: { paths: ['source'] } });
    const opaque = { type: 'object', properties: { target: { $ref: 'other.json' } } };
    expect(refusal(planTool([grant({ conditions: { '*': 'path' } })], 'files', 'x', opaque)).reason).toMatch(
      /cannot tell which arguments of tool 'x' hold paths/,
    );
    expect(
      planTool([grant({ conditions: { target: 'path' }, pathArguments: ['target'] })], 'files', 'x', opaque),
    ).toMatchObject({
      ok: true,
      plan: { paths: ['target'], declared: null },
    });
  });

  it('GW-12 only the grants that name the tool apply; other kinds must name an argument the tool has', () => {
    const g = grant({ tools: ['read_*'], conditions: { path: 'path' } });
    expect(planTool([g], 'files', 'move_file', FS.move_file)).toMatchObject({ ok: true, plan: { paths: [] } });
    expect(planTool([g], 'other', 'read_text_file', FS.read_text_file)).toMatchObject({
      ok: true,
      plan: { paths: [] },
    });
    expect(
      refusal(planTool([grant({ conditions: { mode: 'value' } })], 'files', 'write_file', FS.write_file)).reason,
    ).toMatch(/has no argument 'mode'/);
    expect(
      refusal(
        planTool(
          [grant({ conditions: { path: 'path' } }), grant({ id: 'p.allow[1]', conditions: { path: 'url' } })],
          'files',
          'write_file',
          FS.write_file,
        ),
      ).reason,
    ).toMatch(/a path in one grant and a URL in another/);
  });
});
