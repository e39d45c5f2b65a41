import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../core/events.js';
import { openAuditLog } from './log.js';
import { AuditQuery } from './query.js';
import { egressEvent, newRunId, runEnded, runStarted, tempDir } from '../../test/kits/audit.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function scratch(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}
function openQuery(stateDir: string): AuditQuery {
  const q = new AuditQuery({ stateDir });
  q.open();
  cleanups.push(() => q.close());
  return q;
}
function denied(runId: string): AuditEventInput {
  return {
    type: 'egress.denied',
    run_id: runId,
    agent: { name: 'a', run_id: runId },
    data: { protocol: 'http', host: 'evil.example.net', port: 80, reason: 'not_allowed', detail: 'no rule matches' },
  };
}

describe('AuditQuery', () => {
  it('lists runs newest first with their outcome, and counts egress of a run still going', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir });
    const a = newRunId(Date.parse('2025-01-01T10:00:00Z'));
    const b = newRunId(Date.parse('2025-01-02T10:00:00Z'));
    const c = newRunId(Date.parse('2025-01-03T10:00:00Z'));
    await log.append(runStarted(a, 'claude', 'coding', '2025-01-01T10:00:00.000Z'));
    await log.append(runStarted(b, 'codex', 'research', '2025-01-02T10:00:00.000Z'));
    await log.append(egressEvent(a, 1));
    await log.append(runEnded(a, 3, 'claude'));
    await log.append(runStarted(c, 'aider', 'coding', '2025-01-03T10:00:00.000Z'));
    await Promise.all([log.append(egressEvent(c, 1)), log.append(egressEvent(c, 2)), log.append(denied(c))]);
    await log.close();

    const q = openQuery(dir);
    const runs = q.listRuns({ limit: 10 });
    expect(runs.map((r) => r.run_id)).toEqual([c, b, a]);
    expect(runs[2]).toMatchObject({
      run_id: a,
      agent: 'claude',
      profile: 'coding',
      command: ['node', 'agent.js'],
      started: '2025-01-01T10:00:00.000Z',
      reason: 'exited',
      exit_code: 3,
      duration_ms: 1234,
      egress: { allowed: 5, denied: 2 }, // as recorded in run.ended
    });
    expect(runs[2]?.ended).toMatch(/^\d{4}-/);
    expect(runs[0]).toMatchObject({
      agent: 'aider',
      ended: null,
      reason: null,
      exit_code: null,
      egress: { allowed: 2, denied: 1 },
    });
    expect(q.listRuns({ limit: 1 }).map((r) => r.run_id)).toEqual([c]);
    expect(q.listRuns({ limit: 10, since: '2025-01-02' }).map((r) => r.run_id)).toEqual([c, b]);
    expect(q.listRuns({ limit: 10, since: new Date('2025-01-04T00:00:00Z') })).toEqual([]);
  });

  it('returns all events of a run in seq order', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir });
    const a = newRunId();
    const b = newRunId();
    await log.append(runStarted(a));
    await log.append(runStarted(b));
    await log.append(egressEvent(a, 1));
    await log.append(egressEvent(b, 1));
    await log.append(runEnded(a, 0));
    await log.close();
    const events = openQuery(dir).runEvents(a);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'run.started'],
      [3, 'egress.allowed'],
      [5, 'run.ended'],
    ]);
    expect(events[1]?.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a malformed run id before querying, without echoing it', () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir });
    cleanups.push(() => log.close());
    const q = openQuery(dir);
    // Checked before the db is touched: even a query that was never opened answers USAGE.
    expect(() => new AuditQuery({ stateDir: dir }).runEvents('run_bad')).toThrow(
      expect.objectContaining({ code: 'USAGE' }),
    );
    for (const bad of ["run_' OR 1=1 --", 'run_x', `run_${'A'.repeat(27)}`, 'RUN_01JH0000000000000000000000', '']) {
      let error: unknown;
      try {
        q.runEvents(bad);
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ code: 'USAGE' });
      if (bad !== '') expect((error as Error).message).not.toContain(bad);
    }
  });

  it('answers AUDIT_NOT_FOUND for an unknown run, also when there is no log yet', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir });
    await log.append(runStarted(newRunId()));
    await log.close();
    const unknown = newRunId();
    expect(() => openQuery(dir).runEvents(unknown)).toThrow(
      expect.objectContaining({ code: 'AUDIT_NOT_FOUND', message: `No run ${unknown} in the audit log.` }),
    );
    const empty = openQuery(scratch());
    expect(() => empty.runEvents(unknown)).toThrow(expect.objectContaining({ code: 'AUDIT_NOT_FOUND' }));
    expect(empty.listRuns({ limit: 5 })).toEqual([]);
  });

  it('rejects out-of-range limits and unparsable dates', () => {
    const q = openQuery(scratch());
    for (const limit of [0, -1, 1.5, 1001])
      expect(() => q.listRuns({ limit })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => q.listRuns({ limit: 1, since: 'yesterday-ish' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
