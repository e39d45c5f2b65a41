import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeLimits, ENDPOINT_LIMITS, unenforcedLimits, type LimitEnforcement } from './limits.js';

const GiB = 1024 ** 3;

describe('describeLimits', () => {
  it('says which backend holds each limit, with memory in binary units', () => {
    const v1: LimitEnforcement[] = [
      { limit: 'memory', value: 4 * GiB, by: 'cgroup-v1', scope: 'sandbox' },
      { limit: 'pids', value: 1024, by: 'cgroup-v1', scope: 'sandbox' },
      { limit: 'cpu', value: 1.8, by: 'cgroup-v1', scope: 'sandbox' },
    ];
    expect(describeLimits(v1)).toEqual([
      'limits: memory 4 GiB (cgroup v1), processes 1024 (cgroup v1), cpu 1.8 cores (cgroup v1)',
    ]);
  });

  it('says plainly what is not enforced and why, and that an rlimit covers each process on its own', () => {
    const fallback: LimitEnforcement[] = [
      { limit: 'memory', value: 1.5 * GiB, by: 'rlimit', scope: 'process', note: 'RLIMIT_DATA …' },
      { limit: 'pids', value: 64, by: 'rlimit', scope: 'sandbox', note: 'RLIMIT_NPROC …' },
      { limit: 'cpu', value: 1, by: 'none', scope: 'none', note: 'no cgroup cpu controller: not delegated' },
    ];
    expect(describeLimits(fallback, 30 * 60_000)).toEqual([
      'limits: memory 1.5 GiB per process (rlimit), processes 64 (rlimit), timeout 30m (warden)',
      'limits NOT enforced: cpu (no cgroup cpu controller: not delegated)',
    ]);
    expect(unenforcedLimits(fallback)).toEqual(['cpu']);
  });

  it('nothing held says so', () => {
    const none: LimitEnforcement[] = [{ limit: 'cpu', value: 2, by: 'none', scope: 'none' }];
    expect(describeLimits(none)).toEqual(['limits: none enforced', 'limits NOT enforced: cpu']);
  });
});

describe('ENDPOINT_LIMITS and docs/config.md', () => {
  it('the "Fixed limits of the gateway\'s endpoints" table lists every limit with its value, and nothing else', () => {
    const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    const start = doc.indexOf("### Fixed limits of the gateway's endpoints");
    expect(start).toBeGreaterThan(0);
    const section = doc.slice(start, doc.indexOf('\n### ', start + 1));
    const rows = new Map<string, number>();
    for (const match of section.matchAll(/^\| [^|`]*\(`(\w+)`\) \| (\d+)/gm))
      rows.set(match[1] ?? '', Number(match[2]));
    expect(rows).toEqual(new Map(Object.entries(ENDPOINT_LIMITS)));
  });
});
