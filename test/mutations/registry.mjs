// The defence mutations of `npm run test:mutations` (scripts/mutations.mjs): each removes or weakens
// one defence; the tests named must then fail. `find` must occur exactly once in `file` (a mutation
// that no longer matches the code is reported as stale: update it with the code). Prefer tests
// that attack through the real product (test/escape, test/integration, test/gateway) over unit
// tests of the mechanism. Keep `why` to what the mutation lets an attacker do.

/** @typedef {{ file: string, find: string, replace: string }} Edit */
/** @typedef {{ id: string, threats: string[], why: string, edits: Edit[], tests: { files: string[], names: string } }} Mutation */

/** @type {Mutation[]} */
export const MUTATIONS = [
  // ------------------------------------------------------------------------ secrets (SEC)
  {
    id: 'secret-files-others-may-read',
    threats: ['SEC-03'],
    why: 'a store or key file other users can read (or swap) is used as if it were private',
    edits: [
      {
        file: 'src/secrets/store-key.ts',
        find: 'if (read.uid !== uid || (read.mode & 0o077) !== 0)',
        replace: 'if (read.uid !== uid && (read.mode & 0o077) !== 0)',
      },
    ],
    tests: { files: ['src/secrets/file-store.test.ts'], names: 'SEC-03 a missing key' },
  },
  {
    id: 'secret-store-unauthenticated-key-id',
    threats: ['SEC-03'],
    why: "the key id is not authenticated: a store's envelope can be relabelled, and a wrong key is reported as damage",
    edits: [
      {
        file: 'src/secrets/file-store.ts',
        find: 'if (key !== null && key.id === storeKeyId) return key;',
        replace: 'if (key !== null) return key;',
      },
    ],
    tests: { files: ['src/secrets/file-store.test.ts'], names: 'SEC-03 a wrong key' },
  },
  // ------------------------------------------------------------------------ sandbox (SBX)
  {
    id: 'seccomp-allow-ptrace',
    threats: ['SBX-10'],
    why: 'ptrace, process_vm_* reach other processes of the sandbox',
    edits: [
      {
        file: 'src/sandbox/seccomp.ts',
        find: "syscalls: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise'],",
        replace: "syscalls: ['kcmp', 'pidfd_getfd', 'process_madvise'],",
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-10' },
  },
  {
    id: 'seccomp-allow-io-uring',
    threats: ['SBX-11'],
    why: 'io_uring works around every other syscall check',
    edits: [
      {
        file: 'src/sandbox/seccomp.ts',
        find: "syscalls: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'],",
        replace: "syscalls: ['io_uring_register'],",
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-11' },
  },
  {
    id: 'seccomp-allow-keyring',
    threats: ['SBX-19'],
    why: 'the kernel keyring is shared across sandboxes of one uid',
    edits: [
      {
        file: 'src/sandbox/seccomp.ts',
        find: "syscalls: ['keyctl', 'add_key', 'request_key'],",
        replace: "syscalls: ['request_key'],",
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-19' },
  },
  {
    id: 'proc-sys-writable',
    threats: ['SBX-03'],
    why: "/proc/sys stays the kernel's own, writable where the uid may write",
    edits: [
      {
        file: 'src/sandbox/fs-plan.ts',
        find: "ops.push({ op: 'ro-bind', src: '/proc/sys', dest: '/proc/sys' });",
        replace: '',
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-03' },
  },
  {
    id: 'cap-drop-removed',
    threats: ['SBX-02'],
    // Deleting `--cap-drop ALL` alone changes nothing: bwrap drops every capability itself when
    // the sandbox's uid is not 0 (checked: that mutation survives with CapBnd 0). The flag is kept
    // as a statement of intent; the mutation that matters asks bwrap to keep them all.
    why: 'the sandbox keeps every capability of its user namespace (mount, remount /, raw sockets)',
    edits: [
      {
        file: 'src/sandbox/bwrap.ts',
        find: "    '--cap-drop',\n    'ALL',\n",
        replace: "    '--cap-add',\n    'ALL',\n",
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-02' },
  },
  {
    id: 'memory-limit-not-written',
    threats: ['SBX-14'],
    why: 'a memory bomb eats the host',
    edits: [
      {
        file: 'src/sandbox/limits/cgroup-v1.ts',
        find: "writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes);",
        replace: 'void bytes;',
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-14 a memory bomb' },
  },
  {
    id: 'pids-limit-not-written',
    threats: ['SBX-14'],
    why: 'a fork bomb takes the host down',
    edits: [
      {
        file: 'src/sandbox/limits/cgroup-v1.ts',
        find: "writeFileSync(join(dir, 'pids.max'), String(limits.pids));",
        replace: 'void limits.pids;',
      },
    ],
    tests: { files: ['test/escape/sandbox.test.ts'], names: 'SBX-14 a fork bomb' },
  },
  {
    id: 'stdio-files-handed-over',
    threats: ['SBX-23'],
    why: "the agent reopens warden's stdout/stderr/stdin file through /proc/self/fd: reads the host's log, writes over it",
    edits: [
      {
        file: 'src/runtime/terminal.ts',
        find: "return stream.kind === 'pipe' || stream.kind === 'null';",
        replace: "return stream.kind !== 'tty';",
      },
    ],
    tests: { files: ['test/escape/descriptors.test.ts'], names: 'SBX-23' },
  },
  {
    id: 'host-terminal-handed-over',
    threats: ['SBX-23'],
    why: "the user's terminal is inside the sandbox: the agent reads keystrokes from it and changes its settings",
    edits: [
      {
        file: 'src/runtime/terminal.ts',
        find: "const pty = choice.ptySupported && stdin.kind === 'tty' && stdout.kind === 'tty';",
        replace: 'const pty = false;',
      },
      {
        file: 'src/runtime/terminal.ts',
        find: "return stream.kind === 'pipe' || stream.kind === 'null';",
        replace: "return stream.kind === 'pipe' || stream.kind === 'null' || stream.kind === 'tty';",
      },
    ],
    tests: { files: ['test/escape/descriptors.test.ts'], names: 'SBX-23' },
  },
  {
    id: 'rlimit-data-not-set',
    threats: ['SBX-14'],
    why: 'without a cgroup, a memory bomb eats the host',
    edits: [
      {
        file: 'src/sandbox/limits/run-limits.ts',
        find: "if (this.rlimits.dataBytes !== null) args.push('--rlimit', 'data', String(this.rlimits.dataBytes));",
        replace: '',
      },
    ],
    tests: { files: ['test/integration/limits.test.ts'], names: 'SBX-14 a memory bomb stops at the memory limit' },
  },
  {
    id: 'rlimit-nproc-not-set',
    threats: ['SBX-14'],
    why: 'without a cgroup, a fork bomb takes the host down',
    edits: [
      {
        file: 'src/sandbox/limits/run-limits.ts',
        find: "if (this.rlimits.nproc !== null) args.push('--rlimit', 'nproc', String(this.rlimits.nproc));",
        replace: '',
      },
    ],
    tests: { files: ['test/integration/limits.test.ts'], names: 'SBX-14 a fork bomb stops at the process limit' },
  },
  {
    id: 'proxy-start-unsettled',
    threats: ['SBX-18'],
    why: 'a sandbox that fails to start crashes warden (unhandled rejection, minified source) instead of saying why',
    edits: [
      {
        file: 'src/runtime/confined.ts',
        find: 'launchAfter.catch(() => undefined);',
        replace: '',
      },
      {
        file: 'src/runtime/confined.ts',
        find: 'await proxyListening.catch(() => undefined);',
        replace: '',
      },
    ],
    tests: { files: ['test/integration/limits.test.ts'], names: 'SBX-18 a cgroup that cannot be made' },
  },
  {
    id: 'ca-file-copied-whole',
    threats: ['SBX-04'],
    why: "a CA file named in warden's environment enters whole: a private key or anything else in it becomes readable inside",
    edits: [
      {
        file: 'src/sandbox/ca-bundle.ts',
        find: "const content = `${certificates.map((c) => c.replace(/\\r\\n/g, '\\n')).join('\\n')}\\n`;",
        replace: 'const content = text;',
      },
    ],
    tests: {
      files: ['test/integration/ca-bundle.test.ts', 'src/sandbox/ca-bundle.test.ts'],
      names: 'SBX-04',
    },
  },

  // ------------------------------------------------------- host-run files (SBX-06, SBX-20, SBX-21, SBX-22)
  {
    id: 'protected-entries-writable',
    threats: ['SBX-06', 'SBX-20'],
    why: 'an existing .git/config, .bashrc, .mcp.json, .vscode/ … can be rewritten to run code on the host',
    edits: [
      {
        file: 'src/sandbox/fs-plan.ts',
        find: "this.ops.push({ op: 'ro-bind', src: current, dest: current });",
        replace: '',
      },
    ],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'SBX-06 SBX-20 every protected entry .* that exists' },
  },
  {
    id: 'new-protected-entries-not-judged',
    threats: ['SBX-06', 'SBX-20'],
    why: 'a .bashrc, .mcp.json or .claude/settings.json the agent creates stays for the host to run',
    edits: [{ file: 'src/sandbox/post-run.ts', find: '  check.newProtectedEntries();\n', replace: '' }],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'the agent creates is quarantined after the run' },
  },
  {
    id: 'planted-repositories-not-judged',
    threats: ['SBX-06', 'SBX-21'],
    why: "a repository the agent plants runs its core.fsmonitor on the host's next git status",
    edits: [
      {
        file: 'src/sandbox/post-run.ts',
        find: "if (entries.some((entry) => entry.name === 'HEAD')) here = this.judgeGitDir(dir) ?? dir;",
        replace: '',
      },
    ],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'SBX-06 a nested repository|SBX-21' },
  },
  {
    id: 'walk-skips-git-data-dirs',
    threats: ['SBX-21'],
    why: "a repository hidden in another repository's objects/ is never looked at",
    edits: [
      {
        file: 'src/sandbox/post-run.ts',
        find: '          stack.push(path);',
        replace:
          "          if (!(entries.some((e) => e.name === 'HEAD') && ['objects', 'refs', 'logs'].includes(entry.name))) stack.push(path);",
      },
    ],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'SBX-21 a repository planted inside' },
  },
  {
    id: 'unreadable-dirs-skipped',
    threats: ['SBX-21'],
    why: 'a repository under a directory made unreadable is never looked at (ordinary-user mode)',
    edits: [
      {
        file: 'src/sandbox/post-run.ts',
        find: "if (code !== 'EACCES' && code !== 'EPERM') return null; // gone: nothing git could use either",
        replace: 'return null;',
      },
    ],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'SBX-21 a repository under a directory' },
  },
  {
    id: 'named-scripts-writable',
    threats: ['SBX-20'],
    why: 'the script a protected hook, agent setting or MCP config runs can be rewritten',
    edits: [
      {
        file: 'src/sandbox/fs-plan.ts',
        find: 'for (const path of namedScripts(root, hookDirs))',
        replace: 'for (const path of [] as string[])',
      },
    ],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'SBX-20 scripts' },
  },
  {
    id: 'special-files-kept',
    threats: ['SBX-22'],
    why: 'FIFOs and sockets the agent leaves stay in the workspace',
    edits: [
      { file: 'src/sandbox/post-run.ts', find: '          this.specialFile(path);', replace: '          void path;' },
    ],
    tests: { files: ['test/escape/host-exec.test.ts'], names: 'SBX-22' },
  },
  // Persistent homes and --ro: the one exception to "the state dir is never visible" (SBX-04).
  {
    id: 'home-bound-at-its-own-path',
    threats: ['SBX-04'],
    why: "the persistent home shows at its host path too, inside the state dir (its path, and a way to find the others')",
    edits: [
      {
        file: 'src/sandbox/fs-plan.ts',
        find: "  else ops.push({ op: 'bind', src: persistentHome(spec), dest: SANDBOX_HOME });",
        replace:
          "  else ops.push({ op: 'bind', src: persistentHome(spec), dest: SANDBOX_HOME }, { op: 'bind', src: spec.home, dest: spec.home });",
      },
    ],
    tests: { files: ['test/integration/home.test.ts'], names: 'SBX-04 a persistent home shows nothing else' },
  },
  {
    id: 'home-may-contain-hidden-paths',
    threats: ['SBX-04'],
    why: 'a home that contains the state dir (or a run directory) shows all of it under /home/agent',
    edits: [
      { file: 'src/sandbox/fs-plan.ts', find: '    if (!isInside(path, home)) continue;', replace: '    continue;' },
    ],
    tests: { files: ['src/sandbox/fs-plan.test.ts'], names: 'SBX-04 a home that contains a never-visible path' },
  },
  {
    id: 'home-shared-by-profiles',
    threats: ['SBX-04', 'SBX-17'],
    why: "every profile gets the same home: one profile's login and planted files reach another's runs",
    edits: [
      {
        file: 'src/runtime/home.ts',
        find: '  return join(stateDir, HOMES_DIR, profile);',
        replace: '  return join(stateDir, HOMES_DIR);',
      },
    ],
    tests: { files: ['test/integration/home.test.ts'], names: 'SBX-17 a persistent home keeps' },
  },
  {
    id: 'home-symlink-followed',
    threats: ['SBX-04'],
    why: 'a symlink planted at <state>/homes/<profile> binds whatever it points at into the sandbox',
    edits: [
      {
        file: 'src/runtime/home.ts',
        find: 'fd = openSync(home, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);',
        replace: 'fd = openSync(home, constants.O_RDONLY | constants.O_DIRECTORY);',
      },
    ],
    tests: { files: ['test/integration/home.test.ts'], names: 'SBX-04 a symlink planted where a home should be' },
  },
  {
    id: 'home-owner-unchecked',
    threats: ['SBX-04'],
    why: "a directory of another uid is bound as the agent's home",
    edits: [{ file: 'src/runtime/home.ts', find: '    if (st.uid !== owner.uid)', replace: '    if (false)' }],
    tests: { files: ['test/integration/home.test.ts'], names: "SBX-04 a home of another uid than the sandbox's" },
  },
  {
    id: 'state-dir-searchable-by-all',
    threats: ['SBX-04'],
    why: "as root every local user may pass through the state dir to the homes, not only the sandbox user's group",
    edits: [
      {
        file: 'src/runtime/home.ts',
        find: '  const mode = (st.mode & 0o700) | 0o010;',
        replace: '  const mode = (st.mode & 0o700) | 0o011;',
      },
    ],
    tests: { files: ['test/integration/home.test.ts'], names: 'SBX-17 a persistent home keeps' },
  },
  {
    id: 'ro-of-state-dir-allowed',
    threats: ['SBX-04'],
    why: '--ro (or read_only) naming the state dir is not refused; the sandbox gets a silently emptied view instead of an error, and a path inside it is left to the mount plan alone',
    // Two layers refuse it: run-agent's early check (before the home is made, with the --ro hint)
    // and confine()'s check of every confined process's paths (GW-11); removing one alone is
    // caught by the other (the full run showed it surviving), so the mutation removes both.
    edits: [
      {
        file: 'src/runtime/run-agent.ts',
        find: '  refuseHiddenReadOnly(plan.readOnly, ctx.neverVisible);',
        replace: '',
      },
      {
        file: 'src/runtime/confined.ts',
        find: '  refuseExposedPaths(spec, ctx);',
        replace: '',
      },
    ],
    tests: { files: ['test/integration/home.test.ts'], names: 'SBX-04 --ro of the state dir' },
  },
  // ------------------------------------------------------------------------ egress (NET)
  {
    id: 'any-address-is-global',
    threats: ['NET-07'],
    why: 'an allowed name resolving to loopback or metadata addresses reaches them',
    edits: [
      {
        file: 'src/egress/address.ts',
        find: "  return range === 'unicast' ? GLOBAL : { global: false, range };",
        replace: '  void range;\n  return GLOBAL;',
      },
    ],
    tests: { files: ['test/escape/network.test.ts'], names: 'NET-07' },
  },
  {
    id: 'sni-not-compared',
    threats: ['NET-05'],
    why: 'domain fronting: a tunnel to an allowed host carries TLS for another',
    edits: [
      {
        file: 'src/egress/tunnel.ts',
        find: 'if (!sni.ok || sni.value.host !== options.host) {',
        replace: 'if (!sni.ok) {',
      },
    ],
    tests: { files: ['test/escape/network.test.ts'], names: 'NET-05 domain fronting' },
  },
  {
    id: 'proxy-credential-ignored',
    threats: ['NET-09'],
    why: 'any local process can use the run’s proxy',
    edits: [
      {
        file: 'src/egress/credential.ts',
        find: 'return passwordOk && user.length === USER_BYTES.length && USER_BYTES.equals(user);',
        replace: 'void passwordOk;\n    return true;',
      },
    ],
    tests: { files: ['test/escape/network.test.ts'], names: 'NET-09' },
  },
  {
    id: 'parser-refusals-unrecorded',
    threats: ['AUD-06'],
    why: 'requests the HTTP parser refuses leave no record',
    edits: [
      {
        file: 'src/egress/proxy.ts',
        find: "this.#http.on('clientError',",
        replace: "this.#http.on('clientError-unused',",
      },
    ],
    tests: { files: ['test/escape/network.test.ts'], names: 'AUD-06' },
  },

  // ------------------------------------------------------------------------ gateway (GW)
  {
    id: 'input-schema-skipped',
    threats: ['GW-04'],
    why: 'arguments the tool never declared reach the server',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: '      if (checked.valid) return undefined;',
        replace: '      if (checked.valid || Math.random() < 2) return undefined;',
      },
    ],
    tests: { files: ['test/gateway/schema-validation.test.ts'], names: 'GW-04' },
  },
  {
    id: 'duplicate-keys-accepted',
    threats: ['GW-05'],
    why: 'two JSON parsers disagree on which duplicate key wins',
    edits: [
      {
        file: 'src/gateway/jsonrpc-boundary.ts',
        find: '  if (earlier === undefined) {\n    frame.set(folded, key);\n    return null;\n  }',
        replace:
          '  if (earlier === undefined || earlier === key) {\n    frame.set(folded, key);\n    return null;\n  }',
      },
    ],
    tests: { files: ['src/gateway/jsonrpc-boundary.test.ts'], names: 'GW-05' },
  },

  {
    id: 'session-in-flight-unbounded',
    threats: ['GW-05'],
    why: 'an agent keeps any number of requests in flight on one session, stdio or HTTP, and holds the gateway',
    edits: [
      {
        file: 'src/gateway/session-guard.ts',
        find: '    if (this.#inFlight.size >= this.limits.maxInFlight)',
        replace: '    if (this.#inFlight.size >= this.limits.maxInFlight && Math.random() > 2)',
      },
    ],
    tests: { files: ['src/gateway/endpoint.fuzz.test.ts'], names: 'GW-05 a duplicate id, too many in flight' },
  },
  {
    id: 'line-framer-unbounded',
    threats: ['GW-06', 'GW-05'],
    why: 'a server (or agent) writing without a newline makes the gateway buffer without limit',
    edits: [
      {
        file: 'src/gateway/line-framer.ts',
        find: '    if (needed > this.#cap) {',
        replace: '    if (needed > this.#cap && Math.random() > 2) {',
      },
    ],
    tests: { files: ['src/gateway/line-transport.test.ts'], names: 'GW-06' },
  },

  {
    id: 'replay-store-shared-across-sessions',
    threats: ['GW-08'],
    why: "a client resuming an SSE stream with another session's Last-Event-ID gets that session's events",
    edits: [
      {
        file: 'src/gateway/http-endpoint.ts',
        find: '    const events = new SessionEventStore({\n      maxEvents: this.#limits.replayEvents,\n      maxBytes: this.#limits.replayBytes,\n    });',
        replace:
          '    const shared = globalThis as { sharedEvents?: SessionEventStore };\n    const events = (shared.sharedEvents ??= new SessionEventStore({ maxEvents: 1000, maxBytes: 1 << 22 }));',
      },
    ],
    tests: { files: ['test/gateway/resume.test.ts'], names: 'GW-08' },
  },

  {
    id: 'symlinks-not-followed',
    threats: ['GW-12'],
    why: 'a symlink in the workspace takes an allowed-looking path into a denied directory',
    edits: [
      {
        file: 'src/gateway/resolve-path.ts',
        find: '} else if (stats.isSymbolicLink()) {',
        replace: '} else if (stats.isSymbolicLink() && Math.random() > 2) {',
      },
      {
        file: 'src/gateway/resolve-path.ts',
        find: 'if (!stats.isDirectory()) notDirectory = candidate;',
        replace: 'if (!stats.isDirectory() && !stats.isSymbolicLink()) notDirectory = candidate;',
      },
    ],
    tests: {
      files: ['test/gateway/conditions.test.ts'],
      names: 'GW-12 a symlink out of|GW-12 a deny with when|GW-12 inside warden run',
    },
  },
  {
    id: 'symlink-targets-not-decided',
    threats: ['GW-12'],
    why: "a path that goes through a denied directory and comes back ('link/../../') passes",
    edits: [
      {
        file: 'src/gateway/resolve-path.ts',
        find: "seen.push(comparablePath(`/${real.join('/')}`));",
        replace: 'void seen;',
      },
    ],
    tests: { files: ['test/gateway/conditions.test.ts'], names: 'GW-12 a symlink out of' },
  },
  {
    id: 'unicode-not-normalised',
    threats: ['GW-12'],
    why: 'an NFD spelling of a directory denied in NFC passes',
    edits: [{ file: 'src/policy/compile.ts', find: "return path.normalize('NFC');", replace: 'return path;' }],
    tests: { files: ['test/gateway/conditions.test.ts'], names: 'GW-12 a directory denied in NFC' },
  },
  {
    id: 'path-arguments-not-covered',
    threats: ['GW-12'],
    why: "a grant on 'path' lets move_file's destination (or any other path argument) through unchecked",
    edits: [
      {
        file: 'src/gateway/tool-plan.ts',
        find: 'if (!everyPath && !pathKeys.includes(key))',
        replace: 'if (!everyPath && !pathKeys.includes(key) && Math.random() > 2)',
      },
    ],
    tests: {
      files: ['test/gateway/conditions.test.ts'],
      names: 'GW-12 a grant with a path condition that does not cover',
    },
  },
  {
    id: 'condition-on-missing-argument',
    threats: ['GW-12'],
    why: "a deny on 'path' never applies to read_multiple_files, which takes 'paths'",
    edits: [
      {
        file: 'src/gateway/tool-plan.ts',
        find: 'if (schema.ok && !schema.keys.has(key))',
        replace: 'if (schema.ok && !schema.keys.has(key) && Math.random() > 2)',
      },
    ],
    tests: {
      files: ['test/gateway/conditions.test.ts'],
      names: 'GW-12 a grant with a path condition that does not cover|GW-12 a tool added at runtime',
    },
  },
  {
    id: 'path-arrays-first-only',
    threats: ['GW-12'],
    why: 'one read_multiple_files call reads denied files after an allowed one',
    edits: [
      {
        file: 'src/gateway/arguments.ts',
        find: 'return node.map((item) => visit(item, at, depth + 1));',
        replace: 'return node.map((item, i) => (i === 0 ? visit(item, at, depth + 1) : item));',
      },
    ],
    tests: { files: ['test/gateway/conditions.test.ts'], names: 'GW-12 a deny with when' },
  },
  {
    id: 'undeclared-arguments-forwarded',
    threats: ['GW-12'],
    why: 'a path in an argument the schema does not declare reaches the server unchecked',
    edits: [
      {
        file: 'src/gateway/arguments.ts',
        find: 'if (plan.declared !== null) {',
        replace: 'if (plan.declared !== null && Math.random() > 2) {',
      },
    ],
    tests: { files: ['test/gateway/conditions.test.ts'], names: 'GW-12 a deny with when' },
  },
  {
    id: 'host-paths-told',
    threats: ['GW-12'],
    why: 'refusals tell the agent which host files exist (warden looks with its own rights)',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: 'const outside = prepared.outside === true;',
        replace: 'const outside = prepared.outside === true && Math.random() > 2;',
      },
      {
        file: 'src/gateway/gateway.ts',
        find: 'if (outside) return { audit, agent: LEADS_OUTSIDE };',
        replace: 'if (outside && Math.random() > 2) return { audit, agent: LEADS_OUTSIDE };',
      },
    ],
    tests: {
      files: ['test/gateway/conditions.test.ts'],
      names: 'GW-12 a symlink out of|GW-04 GW-12 a refusal names the argument',
    },
  },
  {
    id: 'refusal-shows-host-paths',
    threats: ['GW-12'],
    why: "a refusal's words tell the agent where a path resolves on the host outside the workspace",
    edits: [
      {
        file: 'src/gateway/refusal.ts',
        find: 'normalisePath(origin.given, options.workspace) !== origin.path && options.shows(origin.path)',
        replace: 'normalisePath(origin.given, options.workspace) !== origin.path',
      },
    ],
    tests: { files: ['src/gateway/refusal.test.ts'], names: 'GW-12 where a path resolves outside the workspace' },
  },
  {
    id: 'uncheckable-tools-listed',
    threats: ['GW-12'],
    why: 'a tool added later that the grants cannot be checked on is offered and forwarded',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: "    if (!plan.ok)\n      return { allow: false, policyIds: [plan.grant], reason: `${NOT_CHECKABLE}: ${plan.reason}`, hiddenBy: 'plan' };",
        replace:
          "    if (!plan.ok && Math.random() > 2)\n      return { allow: false, policyIds: [plan.grant], reason: `${NOT_CHECKABLE}: ${plan.reason}`, hiddenBy: 'plan' };",
      },
    ],
    tests: { files: ['test/gateway/conditions.test.ts'], names: 'GW-12 a tool added at runtime' },
  },
  {
    id: 'server-view-not-warned',
    threats: ['GW-12'],
    why: 'nobody is told that a server sees more than its path conditions allow',
    edits: [{ file: 'src/gateway/gateway.ts', find: 'options.warn?.(warning);', replace: 'void warning;' }],
    tests: { files: ['test/gateway/conditions.test.ts'], names: 'GW-12 warden warns at start' },
  },

  // ------------------------------------------------------------------ pins and screening (SCAN)
  {
    id: 'pin-ignores-changes',
    threats: ['SCAN-05'],
    why: 'a server swaps a pinned tool for a poisoned definition and the agent reads it',
    edits: [
      {
        file: 'src/gateway/definitions.ts',
        find: 'if (pinned !== undefined && pinned.hash !== hash) {',
        replace: 'if (pinned !== undefined && pinned.hash !== hash && false) {',
      },
    ],
    tests: { files: ['test/gateway/pinning.test.ts'], names: 'SCAN-05' },
  },
  {
    id: 'no-relist-without-list-changed',
    threats: ['SCAN-05'],
    why: 'a server that changes a tool without list_changed keeps it shown under its old pin check',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: 'async listTools(session: string): Promise<Tool[]> {\n    await this.#relist();\n',
        replace: 'async listTools(session: string): Promise<Tool[]> {\n',
      },
    ],
    tests: {
      files: ['test/gateway/pinning.test.ts'],
      names: 'SCAN-05 a pinned tool whose description changes mid-session',
    },
  },
  {
    id: 'prompt-pin-ignores-changes',
    threats: ['SCAN-05'],
    why: 'a server swaps a pinned prompt for another text and the agent uses it unreviewed',
    edits: [
      {
        file: 'src/gateway/definitions.ts',
        find: 'if (pinned !== undefined && pinned.hash !== hash) {',
        replace: "if (pinned !== undefined && pinned.hash !== hash && kind === 'tool') {",
      },
    ],
    tests: { files: ['test/gateway/pinning.test.ts'], names: 'SCAN-05 a pinned prompt' },
  },
  {
    id: 'no-relist-on-prompts-list',
    threats: ['SCAN-05'],
    why: 'a server that changes a prompt without list_changed keeps it shown under its old pin check',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: 'async listPrompts(session: string): Promise<Prompt[]> {\n    await this.#relist();\n',
        replace: 'async listPrompts(session: string): Promise<Prompt[]> {\n',
      },
    ],
    tests: { files: ['test/gateway/pinning.test.ts'], names: 'SCAN-05 a pinned prompt .* list_changed sent: false' },
  },
  {
    id: 'tls-pin-unchecked',
    threats: ['SCAN-06'],
    why: 'a remote server pinned by its TLS key is reached whatever key answers (a server in its place)',
    edits: [
      { file: 'src/gateway/remote-tls.ts', find: 'if (seen !== pin) {', replace: 'if (seen !== pin && false) {' },
    ],
    tests: {
      files: ['test/gateway/remote-tls.test.ts'],
      names: 'SCAN-06 a remote server whose TLS key is not the pinned one',
    },
  },
  {
    id: 'tls-pin-not-passed',
    threats: ['SCAN-06'],
    why: "a catalog entry's TLS pin never reaches the bridge, so it only looks checked",
    edits: [
      {
        file: 'src/runtime/mcp-servers.ts',
        find: 'if (remote !== null && tlsPin !== undefined) env[REMOTE_TLS_PIN_ENV] = tlsPin;',
        replace: 'void tlsPin;',
      },
    ],
    tests: {
      files: ['test/gateway/remote-tls.test.ts'],
      names: 'SCAN-06 a remote server whose TLS key is not the pinned one',
    },
  },
  {
    id: 'quarantine-off',
    threats: ['SCAN-01', 'SCAN-02', 'SCAN-03', 'SCAN-04'],
    why: 'a tool whose definition carries instructions to the model is listed and callable',
    edits: [
      {
        file: 'src/gateway/definitions.ts',
        find: "if (action === 'quarantine' && worst !== undefined)",
        replace: "if (action === 'quarantine' && worst !== undefined && false)",
      },
    ],
    tests: { files: ['test/gateway/scanning.test.ts'], names: 'SCAN-01' },
  },
  {
    id: 'output-screen-off',
    threats: ['SCAN-07'],
    why: 'instructions injected into a tool result reach the model as if they were trusted',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: '    this.#forward,\n    this.#screen,\n  ];',
        replace: '    this.#forward,\n  ];',
      },
    ],
    tests: { files: ['test/gateway/scanning.test.ts'], names: 'SCAN-07' },
  },
  {
    id: 'relay-screen-off',
    threats: ['SCAN-07'],
    why: 'a server relays injected instructions to the model as a sampling prompt or a log message',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: '      ...(options.scanner === undefined ? {} : { screen: (value) => this.#screenRelayed(value) }),\n',
        replace: '',
      },
    ],
    tests: { files: ['test/gateway/scanning.test.ts'], names: 'SCAN-07 a sampling request or log message' },
  },
  // ------------------------------------------------------------------------ audit (AUD)
  {
    id: 'call-answered-unrecorded',
    threats: ['AUD-03'],
    why: 'a tool call is answered although its record was never written',
    edits: [
      {
        file: 'src/gateway/gateway.ts',
        find: '      // Unrecorded means unanswered, and nothing more is forwarded (AUD-03).\n      this.#auditBroken = error as Error;\n      throw rpcError(',
        replace: '      void error;\n      return;\n      throw rpcError(',
      },
    ],
    tests: { files: ['test/integration/audit-write-failure.test.ts'], names: 'AUD-03 a tool call' },
  },
  {
    id: 'answer-before-durable',
    threats: ['AUD-03', 'AUD-04'],
    why: 'group commit acknowledges an event before its transaction committed: a call is answered although its record may fail or be lost',
    edits: [
      {
        file: 'src/audit/log.ts',
        find: '    this.#committing = true;\n    this.#writer.commit(',
        replace:
          '    this.#committing = true;\n    for (const p of batch) p.resolve({} as AuditRecord);\n    this.#writer.commit(',
      },
    ],
    tests: {
      files: ['test/integration/audit-group-commit.test.ts'],
      names: 'AUD-03 under concurrent load a call whose record cannot be written',
    },
  },
  {
    id: 'pipeline-record-not-awaited',
    threats: ['AUD-03'],
    why: "the gateway answers without waiting for the call's record to commit",
    edits: [
      {
        file: 'src/gateway/pipeline.ts',
        find: '  await record(call, null);\n  return call.result;',
        replace: '  void record(call, null).catch(() => undefined);\n  return call.result;',
      },
    ],
    tests: {
      files: ['test/integration/audit-group-commit.test.ts'],
      names: 'AUD-03 under concurrent load a call whose record cannot be written',
    },
  },
  {
    id: 'run-without-durable-start',
    threats: ['AUD-03'],
    why: 'the command runs although run.started was never written',
    edits: [
      {
        file: 'src/runtime/run-agent.ts',
        find: '      launchAfter: startDurable,\n',
        replace: '',
      },
      {
        file: 'src/runtime/run-agent.ts',
        find: "    mark('sandbox-spawned');\n    await startDurable;",
        replace: "    mark('sandbox-spawned');",
      },
    ],
    tests: { files: ['test/integration/audit-write-failure.test.ts'], names: 'AUD-03 warden run starts nothing' },
  },
  {
    id: 'verify-ignores-prev-hash',
    threats: ['AUD-02'],
    why: 'a record removed or replaced in the middle of the chain goes unnoticed',
    edits: [
      {
        file: 'src/audit/verify.ts',
        find: '  if (rec.prev_hash !== prevHash) {',
        replace: '  if (false && rec.prev_hash !== prevHash) {',
      },
    ],
    tests: { files: ['test/integration/audit.test.ts', 'src/audit/verify.test.ts'], names: 'AUD-02' },
  },
  // ------------------------------------------------------------------ clients (warden client, gateway --stdio)
  {
    id: 'stdio-gateway-takes-home-as-workspace',
    threats: ['SBX-04'],
    why: 'a desktop client starting the gateway in $HOME hands a read-write server the whole home directory',
    edits: [
      {
        file: 'src/runtime/gateway-workspace.ts',
        find: "    if (dir === home) return 'your home directory';",
        replace: "    if (dir === '') return 'your home directory';",
      },
    ],
    tests: { files: ['test/integration/clients.test.ts'], names: 'SBX-04 the workspace is absolute' },
  },
  // ------------------------------------------------------------------ MCP server sandboxes (GW)
  {
    id: 'server-sees-profile-deny',
    threats: ['GW-11'],
    why: 'a server that sees the workspace reads the .env and secrets/ the profile hides from the agent, and hands them over in a tool call',
    edits: [
      {
        file: 'src/runtime/confined.ts',
        find: '  const deny = [...new Set([...spec.deny, ...ctx.profileDeny.paths])];',
        replace: '  const deny = spec.deny;',
      },
    ],
    tests: {
      files: ['test/gateway/servers.test.ts'],
      names: 'GW-11 a read-only and a read-write server|GW-11 inside warden run',
    },
  },
  {
    id: 'server-config-exposes-denied-path',
    threats: ['GW-11'],
    why: "a server whose read_only names a denied path (or the state dir) starts instead of being refused, and the config's contradiction goes unnoticed",
    edits: [
      {
        file: 'src/runtime/mcp-servers.ts',
        find: '    refuseExposedPaths({ ...planned.plan, id: ctx.runId }, ctx);',
        replace: '',
      },
    ],
    tests: { files: ['test/gateway/servers.test.ts'], names: 'GW-11 a server whose own paths' },
  },
  {
    id: 'server-cwd-in-workspace',
    threats: ['GW-13'],
    why: "npx (python -m, uvx) run the node_modules/.bin or package.json the agent planted in the workspace, with the server's secrets and network",
    edits: [
      {
        file: 'src/runtime/mcp-servers.ts',
        find: '    cwd: SANDBOX_HOME,',
        replace: "    cwd: workspaceMode === 'none' ? SANDBOX_HOME : ctx.workspace,",
      },
    ],
    tests: { files: ['test/gateway/servers.test.ts'], names: 'GW-13 a server started by npx' },
  },
  {
    id: 'server-program-unchecked',
    threats: ['GW-13'],
    why: "a server whose program, script or search path the agent can write runs the agent's code",
    edits: [
      {
        file: 'src/runtime/mcp-servers.ts',
        find: '    const program = check(reach);\n    plans.set(name, { ...plan, command: [program, ...plan.command.slice(1)] });',
        replace: '    void check;\n    void reach;\n    plans.set(name, plan);',
      },
    ],
    tests: { files: ['test/gateway/servers.test.ts'], names: 'GW-13 a server whose' },
  },
  {
    id: 'post-run-skips-server-roots',
    threats: ['SBX-21'],
    why: "a repository a read-write server planted in its own writable directory survives the run, and the host's git runs its fsmonitor",
    edits: [
      {
        file: 'src/runtime/run-agent.ts',
        find: '      const baseline = mergeBaselines([sandbox.baseline, ...(gateway?.baselines() ?? [])]) ?? sandbox.baseline;',
        replace: '      const baseline = sandbox.baseline;',
      },
    ],
    tests: { files: ['test/gateway/servers.test.ts'], names: 'SBX-21 inside warden run' },
  },
  {
    id: 'gateway-stop-skips-post-run',
    threats: ['SBX-21'],
    why: 'a repository a read-write server planted through warden gateway survives it',
    edits: [
      {
        file: 'src/runtime/run-gateway.ts',
        find: '      await checkServersAfterStop(started.baselines(), { agent, setup });',
        replace: '',
      },
    ],
    tests: { files: ['test/gateway/servers.test.ts'], names: 'SBX-21 a git repository a read-write server' },
  },
  {
    id: 'server-stderr-unredacted',
    threats: ['SEC-01'],
    why: "a server's secrets (env.pass, env.set, its proxy credential) printed on its stderr land in the audit log and warden logs",
    edits: [
      {
        file: 'src/runtime/mcp-servers.ts',
        find: '        stderr: ring.text([...plan.secrets, confinement.credential]),',
        replace: '        stderr: ring.text([]),',
      },
    ],
    tests: { files: ['test/gateway/failures.test.ts'], names: 'SEC-01 the gateway goes on' },
  },
  {
    id: 'server-limits-hardcoded',
    threats: ['SBX-18'],
    why: "servers ignore the run's limits rule: on a host without cgroups none starts, whatever the user chose",
    edits: [
      {
        file: 'src/runtime/mcp-servers.ts',
        find: "    acceptMissingLimits: ctx.acceptMissingLimits || ctx.host.limits.policy === 'best-effort',",
        replace: '    acceptMissingLimits: false,',
      },
    ],
    tests: { files: ['test/gateway/failures.test.ts'], names: 'SBX-18 on a host without cgroups' },
  },
  // ------------------------------------------------------------------ idmapped workspaces (warden-idmap)
  {
    id: 'idmap-keeps-root-groups',
    threats: ['SBX-02'],
    why: "the launcher keeps root's supplementary groups: the sandbox can read and write what group root (or disk, adm) may",
    edits: [
      {
        file: 'src/sandbox/native/warden-idmap.c',
        find: '    if (setgroups(0, NULL) != 0) fail_errno("drop", "setgroups");',
        replace: '',
      },
    ],
    tests: { files: ['test/integration/idmap-helper.test.ts'], names: 'SBX-02 hands over the sandbox user' },
  },
  {
    id: 'idmap-follows-symlinks',
    threats: ['SBX-07'],
    why: 'a root reached through a symlink the agent planted is idmapped and bound: the sandbox writes wherever the link points, as its owner',
    edits: [
      {
        file: 'src/sandbox/native/warden-idmap.c',
        find: '        .resolve = WARDEN_RESOLVE_NO_SYMLINKS | WARDEN_RESOLVE_NO_MAGICLINKS,',
        replace: '        .resolve = WARDEN_RESOLVE_NO_MAGICLINKS,',
      },
    ],
    tests: {
      files: ['test/integration/idmap-helper.test.ts'],
      names: 'SBX-07 refuses a root reached through a symlink',
    },
  },
  // ------------------------------------------------------------------ scanners (SCAN)
  {
    id: 'scan-rule-instruction-override-off',
    threats: ['SCAN-01', 'SCAN-02', 'SCAN-03'],
    why: 'definitions that tell the model to ignore its instructions (in any field, split by invisible characters) pass as clean',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '  for (const rule of PHRASE_RULES) apply(rule);',
        replace: "  for (const rule of PHRASE_RULES) if (rule.id !== 'instruction-override') apply(rule);",
      },
    ],
    tests: {
      files: ['test/scan/scan.test.ts'],
      names: 'SCAN-01 hidden instructions|SCAN-02 the same|SCAN-03 invisible',
    },
  },
  {
    id: 'scan-rule-instruction-block-off',
    threats: ['SCAN-01'],
    why: '<IMPORTANT>-style blocks of orders for the model pass as clean',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '  for (const rule of PHRASE_RULES) apply(rule);',
        replace: "  for (const rule of PHRASE_RULES) if (rule.id !== 'instruction-block') apply(rule);",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-01 hidden instructions' },
  },
  {
    id: 'scan-rule-secrecy-off',
    threats: ['SCAN-01', 'SCAN-02'],
    why: 'a description that tells the model to hide what it does from the user passes',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '  for (const rule of PHRASE_RULES) apply(rule);',
        replace: "  for (const rule of PHRASE_RULES) if (rule.id !== 'secrecy') apply(rule);",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-01 hidden instructions|SCAN-02 the same' },
  },
  {
    id: 'scan-rule-sensitive-path-off',
    threats: ['SCAN-01'],
    why: 'a tool that asks for ~/.ssh keys, .env or mcp.json passes',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '  for (const rule of PHRASE_RULES) apply(rule);',
        replace: "  for (const rule of PHRASE_RULES) if (rule.id !== 'sensitive-path') apply(rule);",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-01 hidden instructions' },
  },
  {
    id: 'scan-rule-exfiltration-off',
    threats: ['SCAN-01', 'SCAN-02'],
    why: 'a definition that sends data to an outside URL or mail address passes',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '  for (const rule of PHRASE_RULES) apply(rule);',
        replace: "  for (const rule of PHRASE_RULES) if (rule.id !== 'exfiltration') apply(rule);",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-01 hidden instructions|SCAN-02 the same' },
  },
  {
    id: 'scan-rule-shadowing-off',
    threats: ['SCAN-04'],
    why: "a tool that tells the model how to use another server's tools passes",
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '  for (const rule of PHRASE_RULES) apply(rule);',
        replace: "  for (const rule of PHRASE_RULES) if (rule.id !== 'tool-shadowing') apply(rule);",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-04' },
  },
  {
    id: 'scan-schema-not-walked',
    threats: ['SCAN-02'],
    why: "only a definition's top-level fields are scanned: instructions in parameter descriptions, enums, defaults and outputSchema pass",
    edits: [
      {
        file: 'src/scan/walk.ts',
        find: '      visit(child, childPath, childKey, key, depth + 1);',
        replace: '      if (depth === 0) visit(child, childPath, childKey, key, depth + 1);',
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-02 the same' },
  },
  {
    id: 'scan-no-folding',
    threats: ['SCAN-03'],
    why: 'zero-width characters and look-alike letters split the words the rules look for',
    edits: [
      {
        file: 'src/scan/text.ts',
        find: "  let folded = text.replace(INVISIBLE_GLOBAL, '').normalize('NFKC');",
        replace: '  let folded = text;',
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-03 invisible' },
  },
  {
    id: 'scan-tag-text-not-rescanned',
    threats: ['SCAN-03'],
    why: 'instructions spelled in invisible Unicode tag characters are not read',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: "      if (raw.rule === 'unicode-tags') {",
        replace: "      if (raw.rule === 'unicode-tags-off') {",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-03 invisible' },
  },
  {
    id: 'scan-no-decoding',
    threats: ['SCAN-03'],
    why: 'instructions in base64 or hex blobs pass',
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: '    for (const blob of findEncodedText(text)) {',
        replace: "    for (const blob of findEncodedText('')) {",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-03 invisible' },
  },
  {
    id: 'scan-output-rules-off',
    threats: ['SCAN-07'],
    why: "orders about the model's reply, injected code and hijacked tasks in tool results pass",
    edits: [
      {
        file: 'src/scan/scanner.ts',
        find: "  if (kind === 'output') {",
        replace: "  if (kind !== 'output') {",
      },
    ],
    tests: { files: ['test/scan/scan.test.ts'], names: 'SCAN-07' },
  },
  {
    id: 'scan-json-text-not-walked',
    threats: ['SCAN-07'],
    why: 'a tool result whose text is JSON is scanned as one string, its fields not located (paths lost)',
    edits: [
      {
        file: 'src/scan/walk.ts',
        find: '      const parsed = jsonDepth < 2 ? parseJsonText(node) : undefined;',
        replace: '      const parsed = undefined;',
      },
    ],
    tests: { files: ['src/scan/scanner.test.ts'], names: 'SCAN-07 JSON text' },
  },
  // ------------------------------------------------------------------------ provenance (SCAN-06)
  {
    id: 'store-files-unchecked',
    threats: ['SCAN-06'],
    why: "a file of a pinned package changed in warden's store after the install starts as the server",
    edits: [{ file: 'src/registry/store.ts', find: '  if (changed.length > 0)', replace: '  if (changed.length < 0)' }],
    tests: {
      files: ['test/gateway/catalog.test.ts'],
      names: 'SCAN-06 a tampered store file|SCAN-06 warden catalog add pins a package',
    },
  },
  {
    id: 'store-integrity-unchecked',
    threats: ['SCAN-06'],
    why: 'a store installed from another tarball than the catalog pins (another integrity) starts as the server',
    edits: [
      {
        file: 'src/registry/store.ts',
        find: "  if (manifest.integrity !== pin.integrity) throw differ('integrity', pin.integrity, String(manifest.integrity));",
        replace: '',
      },
      {
        file: 'src/registry/store.ts',
        find: "  if (tarball !== pin.integrity) throw differ('tarball integrity', pin.integrity, tarball);",
        replace: '',
      },
    ],
    tests: { files: ['test/gateway/catalog.test.ts'], names: 'SCAN-06 a catalog whose integrity differs' },
  },
  {
    id: 'file-pin-unchecked',
    threats: ['SCAN-06'],
    why: 'a local program changed after it was pinned starts as the server',
    edits: [
      { file: 'src/registry/provenance.ts', find: '      if (found !== origin.sha256)', replace: '      if (false)' },
    ],
    tests: { files: ['test/gateway/catalog.test.ts'], names: 'SCAN-06 a changed local program' },
  },
  {
    id: 'npx-version-unchecked',
    threats: ['SCAN-06'],
    why: 'an npx line asking for another version than the catalog pins is started (as the pinned package) instead of refused',
    edits: [
      {
        file: 'src/registry/provenance.ts',
        find: '      if (pkg.spec !== pinned.pin.version)',
        replace: '      if (false)',
      },
    ],
    tests: {
      files: ['test/gateway/catalog.test.ts', 'src/registry/provenance.test.ts'],
      names: 'SCAN-06 npx with another version|SCAN-06 npx at the pinned version',
    },
  },
  {
    id: 'unpinned-servers-allowed',
    threats: ['SCAN-06'],
    why: 'while a catalog exists, a server added to warden.yaml without a pin starts anyway',
    edits: [
      {
        file: 'src/registry/provenance.ts',
        find: "    if (catalog === null || allowed) return { kind: 'unpinned', warnings };",
        replace: "    return { kind: 'unpinned', warnings };",
      },
    ],
    tests: {
      files: ['test/gateway/catalog.test.ts', 'src/registry/provenance.test.ts'],
      names: 'SCAN-06 while a catalog exists|SCAN-06 unpinned servers are refused',
    },
  },
  {
    id: 'typosquat-started',
    threats: ['SCAN-06'],
    why: 'an npx line running a look-alike of a trusted package name is not refused for it',
    edits: [{ file: 'src/registry/provenance.ts', find: '      if (!allowed)\n', replace: '      if (false)\n' }],
    tests: {
      files: ['test/gateway/catalog.test.ts', 'src/registry/provenance.test.ts'],
      names: 'SCAN-06 while a catalog exists|SCAN-06 a typosquat is refused',
    },
  },
  {
    id: 'typosquat-skeleton-unfolded',
    threats: ['SCAN-06'],
    why: 'look-alike letters and digits for letters (@modelcontextprotoco1/…) are not folded: such names pass as new',
    edits: [
      {
        file: 'src/registry/typosquat.ts',
        find: ".map(fold).join('');\n  return folded",
        replace: ".join('');\n  return folded",
      },
    ],
    tests: {
      files: ['src/registry/typosquat.test.ts'],
      names: 'SCAN-06 flags a digit for a letter|SCAN-06 flags homoglyphs',
    },
  },
  {
    id: 'store-stat-shortcut-trusted',
    threats: ['SCAN-06'],
    why: "a store file rewritten after the install is taken as unchanged at a server's start without re-hashing it",
    edits: [
      {
        file: 'src/registry/store.ts',
        find: 'const same = known?.stats?.[key] === stat ? known.files[key] : undefined;',
        replace: 'const same = known?.stats?.[key] !== undefined ? known.files[key] : undefined;',
      },
    ],
    tests: { files: ['test/gateway/catalog.test.ts'], names: 'SCAN-06 a tampered store file' },
  },
  {
    id: 'upstream-names-collision-unchecked',
    threats: ['GW-03'],
    why: "with mcp.names: upstream, a second server offering a granted server's tool name silently takes that name over (calls meant for one server reach another)",
    edits: [
      {
        file: 'src/gateway/catalog.ts',
        find: 'if (other !== undefined) {',
        replace: 'if (other !== undefined && other.server === server) {',
      },
    ],
    tests: {
      files: ['src/gateway/catalog.test.ts', 'test/gateway/fidelity.test.ts'],
      names: 'GW-03 names: upstream',
    },
  },
];
