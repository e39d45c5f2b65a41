/**
 * `warden run` basics as a user sees them: exit codes, the summary, stdio, the environment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  makeWorkspace,
  probeValues,
  removeWorkspace,
  runShell,
  warden,
  type Mode,
} from '../helpers/warden.js';

describe.each(availableModes())('warden run as %s', (mode: Mode) => {
  let workspace = '';
  afterEach(() => removeWorkspace(workspace));

  it("exits with the command's exit code and writes the summary", async () => {
    workspace = makeWorkspace(mode);
    const result = await runShell(mode, workspace, 'echo out; echo err >&2; exit 7');
    expect(result.code).toBe(7);
    expect(result.stdout).toBe('out\n');
    expect(result.stderr).toContain('err\n');
    expect(result.summary?.reason).toBe('exited');
    expect(result.summary?.command_exit_code).toBe(7);
    expect(result.summary?.run_id).toMatch(/^run_[0-9A-Z]{26}$/);
  });

  it('runs a command line far longer than an audit record (the record keeps its head and digest)', async () => {
    workspace = makeWorkspace(mode);
    // Two arguments: one argument may not exceed 128 KiB (MAX_ARG_STRLEN).
    const long = 'y'.repeat(100_000);
    const result = await warden(mode, ['run', '--', '/bin/sh', '-c', 'printf %s "$0$1" | wc -c', long, long], {
      cwd: workspace,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('200000');
  });

  it('reports death by signal as 128+N', async () => {
    workspace = makeWorkspace(mode);
    const result = await runShell(mode, workspace, 'kill -TERM $$');
    expect(result.code).toBe(143);
  });

  it('gives 127 with a clear message for a command that does not exist', async () => {
    workspace = makeWorkspace(mode);
    const result = await runShell(mode, workspace, 'exec no-such-command-xyz');
    expect(result.code).toBe(127);
  });

  it('runs in the workspace with the documented environment', async () => {
    workspace = makeWorkspace(mode);
    const result = await runShell(
      mode,
      workspace,
      'echo CWD=$(pwd); echo HOME=$HOME; echo PROXY=$HTTPS_PROXY; echo RUN=$WARDEN_RUN_ID',
    );
    const values = probeValues(result.stdout);
    expect(values.get('CWD')).toBe(workspace);
    expect(values.get('HOME')).toBe('/home/agent');
    expect(values.get('PROXY')).toMatch(/^http:\/\/warden:[0-9a-f]{64}@127\.0\.0\.1:3128$/);
    expect(values.get('RUN')).toBe(result.summary?.run_id);
  });
});
