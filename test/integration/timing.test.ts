/**
 * WARDEN_TIMING (docs/config.md): one `warden timing:` line on stderr at exit with the start-up
 * milestones, written by the CLI from the marks core records; nothing without the variable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { availableModes, makeWorkspace, removeWorkspace, warden, type Mode } from '../helpers/warden.js';

describe.each(availableModes())('WARDEN_TIMING as %s', (mode: Mode) => {
  let workspace = '';
  afterEach(() => removeWorkspace(workspace));

  it('prints the milestones of a run, in order, as one line on stderr at exit', async () => {
    workspace = makeWorkspace(mode);
    const result = await warden(mode, ['run', '-q', '--', '/bin/true'], {
      cwd: workspace,
      env: { WARDEN_TIMING: '1' },
    });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('warden timing: '));
    expect(lines).toHaveLength(1);
    const names = [...(lines[0] ?? '').matchAll(/(\S+)=(\d+\.\d)/g)].map((m) => m[1]);
    // Marks from cli (entry, main), runtime (run-agent) and sandbox (bwrap), then the exit hooks.
    for (const name of ['cli-loaded', 'cli-parsed', 'run.started', 'planned', 'ready', 'exited', 'run.ended', 'exit'])
      expect(names).toContain(name);
    expect(names[0]).toBe('cli-loaded');
    expect(names.at(-1)).toBe('exit');
    const times = [...(lines[0] ?? '').matchAll(/=(\d+\.\d)/g)].map((m) => Number(m[1]));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('prints nothing without it', async () => {
    workspace = makeWorkspace(mode);
    const result = await warden(mode, ['run', '-q', '--', '/bin/true'], { cwd: workspace, env: { WARDEN_TIMING: '' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('warden timing');
  });
});
