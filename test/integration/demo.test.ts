/**
 * `warden demo`, the README's first command: every step behaves as the demo says, and what the
 * agent observed agrees with the audit log, including the MCP tools step (issue 3: a real
 * filesystem server behind the gateway, a tool the task does not grant refused).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { availableModes, makeWorkspace, removeWorkspace, warden, type Mode } from '../helpers/warden.js';

interface DemoStepReport {
  readonly id: string;
  readonly group: string;
  readonly expect: 'allowed' | 'blocked';
  readonly observed: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly evidence: string | null;
}
interface DemoReportJson {
  readonly ok: boolean;
  readonly steps: readonly DemoStepReport[];
  readonly audit: {
    readonly verified: boolean;
    readonly events: readonly { readonly type: string; readonly data: Record<string, unknown> }[];
  };
}

describe.each(availableModes())('warden demo as %s', (mode: Mode) => {
  let cwd = '';
  afterEach(() => removeWorkspace(cwd));

  it('GW-01 every step behaves as expected and matches the audit log; the filesystem server is used through the gateway and an ungranted tool is refused', async () => {
    cwd = makeWorkspace(mode);
    const result = await warden(mode, ['demo', '--json'], { cwd, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as DemoReportJson;
    expect(
      report.steps.filter((s) => !s.ok),
      JSON.stringify(report.steps, null, 2),
    ).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.audit.verified).toBe(true);

    const step = (id: string): DemoStepReport | undefined => report.steps.find((s) => s.id === id);
    expect(step('mcp-list')?.detail).toMatch(/files__list_directory files__read_text_file/);
    expect(step('mcp-list')?.detail).not.toMatch(/write_file/);
    expect(step('mcp-read')?.observed).toBe('allowed');
    expect(step('mcp-write')?.observed).toBe('blocked');
    expect(step('mcp-outside')?.observed).toBe('blocked');

    // The gateway's own records: one allowed read, the write and the outside read refused.
    const calls = report.audit.events
      .filter((e) => e.type === 'mcp.call')
      .map((e) => ({ name: e.data['name'], decision: e.data['decision'], outcome: e.data['outcome'] }));
    expect(calls).toEqual([
      { name: 'files__read_text_file', decision: 'allow', outcome: 'ok' },
      { name: 'files__write_file', decision: 'deny', outcome: 'denied' },
      { name: 'files__read_text_file', decision: 'deny', outcome: 'denied' },
    ]);
    const listed = report.audit.events.find((e) => e.type === 'mcp.listed');
    expect(listed?.data['shown']).toBe(2);
    expect((listed?.data['hidden'] as { name: string }[]).map((h) => h.name)).toContain('files__write_file');
  }, 150_000);

  it('the human report says which tools the task grants, apart from the calls refused', async () => {
    cwd = makeWorkspace(mode);
    const result = await warden(mode, ['demo'], { cwd, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'MCP tool calls: the task grants files__list_directory, files__read_text_file (under the workspace); 1 call allowed, 2 refused.',
    );
    expect(result.stdout).toMatch(/Everything behaved as expected: \d+ actions allowed, \d+ blocked, all on record\./);
  }, 150_000);
});
