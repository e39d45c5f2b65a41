/**
 * Keeps the defence-mutation registry (test/mutations/registry.mjs, run by `npm run
 * test:mutations`) in step with the code: every mutation's text occurs exactly once in its file
 * and every test file it names exists, so a refactor that moves a defence makes this fail here,
 * in every `npm test`, instead of leaving a mutation that can no longer be applied.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/warden.js';
// @ts-expect-error: a plain ES module without type declarations (the harness runs it with node)
import { MUTATIONS } from './registry.mjs';

interface Mutation {
  readonly id: string;
  readonly threats: readonly string[];
  readonly edits: readonly { readonly file: string; readonly find: string; readonly replace: string }[];
  readonly tests: { readonly files: readonly string[]; readonly names: string };
}

const mutations = MUTATIONS as readonly Mutation[];
const threatIds = new Set(
  readFileSync(join(REPO, '..', 'shared', 'threat-cases.md'), 'utf8').match(/\b[A-Z]{2,4}-\d{2}\b/g),
);

describe('the defence-mutation registry', () => {
  it('has unique ids', () => {
    expect(new Set(mutations.map((m) => m.id)).size).toBe(mutations.length);
  });

  it.each(mutations.map((m) => [m.id, m] as const))(
    '%s still applies: its text occurs once, its tests exist',
    (_, m) => {
      for (const edit of m.edits) {
        const text = readFileSync(join(REPO, edit.file), 'utf8');
        expect(text.split(edit.find).length - 1, `${edit.file} must contain the text to mutate exactly once`).toBe(1);
        expect(edit.replace).not.toBe(edit.find);
      }
      for (const file of m.tests.files) expect(existsSync(join(REPO, file)), file).toBe(true);
      for (const id of m.threats)
        expect(threatIds.has(id) || threatIds.size === 0, `${id} is not a threat case`).toBe(true);
      expect(() => new RegExp(m.tests.names)).not.toThrow();
    },
  );
});
