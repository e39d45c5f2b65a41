/**
 * `warden doctor`'s real probes of idmapped mounts (see idmap.ts): one end to end, through the helper
 * exactly as a run uses it, and one of a given directory's filesystem. Never on the run path.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxUser } from './spec.js';

export interface IdmapProbe {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Runs the helper on a fresh root-owned directory under the system temp dir, as a run would: the
 * sandbox user writes a file through the idmapped clone, then the probe checks that the process was
 * the sandbox user with no capability, and that the host sees the file owned by root.
 */
export function probeIdmapEndToEnd(helper: string, user: SandboxUser): IdmapProbe {
  const dir = mkdtempSync(join(tmpdir(), 'warden-doctor-idmap-'));
  try {
    chmodSync(dir, 0o755);
    const root = join(dir, 'root-owned');
    const stage = join(dir, 'stage');
    mkdirSync(root, { mode: 0o700 });
    mkdirSync(join(stage, '0'), { recursive: true, mode: 0o755 });
    chmodSync(stage, 0o755);
    const result = spawnSync(
      helper,
      [
        String(user.uid),
        String(user.gid),
        stage,
        root,
        '--',
        '/bin/sh',
        '-c',
        'echo probe > "$1/probe" && cat /proc/self/status',
        'sh',
        join(stage, '0'),
      ],
      { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const why = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
    if (result.status !== 0) return { ok: false, detail: why || `the helper exited ${String(result.status)}` };
    const status = result.stdout;
    const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '?';
    const uid = field('Uid').split(/\s+/);
    if (uid.some((id) => id !== String(user.uid)))
      return { ok: false, detail: `the probe ran as uid ${uid.join('/')}, not ${user.uid}` };
    const caps = ['CapPrm', 'CapEff', 'CapAmb'].filter((name) => !/^0+$/.test(field(name)));
    if (caps.length > 0) return { ok: false, detail: `the probe held capabilities (${caps.join(', ')})` };
    const owner = statSync(join(root, 'probe')).uid;
    if (owner !== 0)
      return { ok: false, detail: `a file the sandbox user made in a root-owned directory belongs to uid ${owner}` };
    return {
      ok: true,
      detail: `${user.name} wrote into a root-owned directory through an idmapped mount; the file is root's`,
    };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether `dir`'s filesystem takes an idmapped mount (nothing is mounted: the clone is dropped). */
export function probeIdmapFilesystem(helper: string, dir: string): IdmapProbe {
  const result = spawnSync(helper, ['--probe', dir], { encoding: 'utf8', timeout: 10_000 });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  return { ok: result.status === 0, detail: text === '' ? `exit ${String(result.status)}` : text };
}
