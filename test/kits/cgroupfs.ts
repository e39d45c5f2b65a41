/**
 * A directory tree that imitates cgroupfs, for the unit tests of the limits module where the
 * kernel cannot serve (this machine has no cgroup v2 controllers). It holds the files warden reads
 * and writes; what the kernel would do on a write (enable a controller, move a process) is not
 * imitated: tests check what warden wrote. The real kernel interface is tested in
 * test/integration/limits.test.ts. Test kit only, not exported from the module.
 */
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class FakeCgroupfs {
  readonly root = mkdtempSync(join(tmpdir(), 'warden-fake-cgroupfs-'));

  /** A cgroup directory with the interface files a v2 cgroup has. */
  cgroup(
    relative: string,
    options: { controllers?: string[]; subtree?: string[]; procs?: number[]; owner?: number } = {},
  ): string {
    const dir = join(this.root, relative);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.controllers'), `${(options.controllers ?? []).join(' ')}\n`);
    writeFileSync(join(dir, 'cgroup.subtree_control'), `${(options.subtree ?? []).join(' ')}\n`);
    writeFileSync(join(dir, 'cgroup.procs'), (options.procs ?? []).map((p) => `${p}\n`).join(''));
    if (options.owner !== undefined) {
      for (const path of [dir, join(dir, 'cgroup.procs'), join(dir, 'cgroup.subtree_control')])
        chownSync(path, options.owner, options.owner);
    }
    return dir;
  }

  /** A mountinfo file with one cgroup2 mount at `root` (and v1 mounts, if given). */
  mountinfo(v1: Record<string, string> = {}): string {
    const lines = [`35 24 0:30 / ${this.root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate`];
    let id = 40;
    for (const [controller, mount] of Object.entries(v1))
      lines.push(`${id++} 24 0:${id} / ${mount} rw - cgroup cgroup rw,${controller}`);
    const path = join(this.root, '.mountinfo');
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  }

  /** A /proc/self/cgroup file placing this process at `path` in the v2 hierarchy. */
  selfCgroup(path: string): string {
    const file = join(this.root, '.self-cgroup');
    writeFileSync(file, `0::${path}\n`);
    return file;
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
