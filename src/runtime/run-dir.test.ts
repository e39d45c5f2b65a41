import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRunId } from '../core/ids.js';
import { recoverAbandonedRuns, recoveredRunEvents } from './run-dir.js';

describe('recovery of sandboxes whose warden died', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'warden-rundir-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A run directory as a dead warden left it: its owner (a pid that is gone) and its sandbox record. */
  function deadSandbox(sandboxId: string, owner: Record<string, unknown>): void {
    const dir = join(root, sandboxId);
    mkdirSync(dir);
    writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 7, start: '1', ...owner }));
    writeFileSync(join(dir, 'sandbox.json'), JSON.stringify({ cgroups: {}, runId: sandboxId }));
  }

  it("records each dead sandbox under its run's id: from owner.json, else from a server sandbox's dotted id", async () => {
    const run = newRunId();
    const legacy = newRunId();
    deadSandbox(run, { agent: 'claude', run });
    deadSandbox(`${run}.files.1`, { agent: 'mcp:files', run });
    deadSandbox(`${legacy}.files.2`, {}); // written before owner.json named the run
    deadSandbox('run_not-a-run-id.x.1', {}); // nothing valid to record it under
    const warnings: string[] = [];
    const recovered = await recoverAbandonedRuns(root, (line) => warnings.push(line));
    const events = recoveredRunEvents(recovered);
    expect(
      events.map((e) => [e.type, e.run_id, e.agent.name, e.type === 'run.recovered' ? e.data.sandbox : null]).sort(),
    ).toEqual(
      [
        ['run.recovered', run, 'claude', run],
        ['run.recovered', run, 'mcp:files', `${run}.files.1`],
        ['run.recovered', legacy, 'unknown', `${legacy}.files.2`],
      ].sort(),
    );
  });
});
