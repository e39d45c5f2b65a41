import { describe, expect, it } from 'vitest';
import type { HostExecBaseline } from '../sandbox/index.js';
import { mergeBaselines } from './baselines.js';

const policy: HostExecBaseline['absent'][number]['policy'] = 'code';

function baseline(since: number, roots: string[], existing: string[], absent: string[]): HostExecBaseline {
  return {
    since,
    roots,
    existing,
    absent: absent.map((path) => ({ path, policy })),
    gitDirs: roots.map((r) => `${r}/.git`),
  };
}

describe('mergeBaselines (SBX-20, SBX-21 across the agent and its servers)', () => {
  it('is null for none and the baseline itself for one', () => {
    expect(mergeBaselines([])).toBeNull();
    const one = baseline(5, ['/w'], [], ['/w/.bashrc']);
    expect(mergeBaselines([one])).toBe(one);
  });

  it('covers every root from the earliest start, and judges as new what any sandbox saw absent', () => {
    // A server planned first saw no .mcp.json; it created one; the agent, planned later, saw it.
    const server = baseline(100, ['/w', '/srv-data'], ['/w/.bashrc'], ['/w/.mcp.json', '/srv-data/.envrc']);
    const agent = baseline(200, ['/w'], ['/w/.bashrc', '/w/.mcp.json'], []);
    const merged = mergeBaselines([agent, server]);
    expect(merged?.since).toBe(100);
    expect(merged?.roots).toEqual(['/w', '/srv-data']);
    expect(merged?.existing).toEqual(['/w/.bashrc']);
    expect(merged?.absent.map((e) => e.path).sort()).toEqual(['/srv-data/.envrc', '/w/.mcp.json']);
    expect(merged?.gitDirs).toEqual(['/w/.git', '/srv-data/.git']);
  });
});
