/**
 * `warden demo`: a self-contained demonstration on the embedded defaults. A scripted agent runs
 * in a real sandbox, does ordinary work (its workspace, a fetch from an allowed host that the
 * demo serves locally), then tries what a prompt-injected agent would. The demo prints each step
 * as allowed or blocked, checks the verdicts against the audit log and the kernel's counters,
 * verifies the hash chain, and prints the run's audit trail.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { WardenConfig } from '../core/config.js';
import { WardenError } from '../core/errors.js';
import type { AuditRecord } from '../core/events.js';
import { AuditQuery, describeEvent, openAuditLog, verifyAuditLog } from '../audit/index.js';
import {
  parseConfigText,
  recordRecoveredRuns,
  runAgent,
  type PreparedHost,
  type RunPlan,
  type RunSummary,
} from '../runtime/index.js';
import { SANDBOX_LIB } from '../sandbox/index.js';
import { DEMO_AGENT_SCRIPT, DEMO_GRANTED_TOOLS, DEMO_STEPS, type DemoStep } from './agent-script.js';

export interface DemoStepResult extends DemoStep {
  readonly observed: 'allowed' | 'blocked' | 'missing';
  readonly detail: string;
  /** Whether the observation matches the expectation and the independent evidence. */
  readonly ok: boolean;
  /** What the audit log or the kernel says about this step, when it has something to say. */
  readonly evidence: string | null;
}

export interface DemoReport {
  readonly ok: boolean;
  readonly run: RunSummary;
  readonly steps: readonly DemoStepResult[];
  readonly audit: { readonly verified: boolean; readonly detail: string; readonly events: readonly AuditRecord[] };
}

export interface DemoOptions {
  readonly prepared: PreparedHost;
  readonly stateDir: string;
  /** Where to print the live report; null for none (--json). */
  readonly out: Writable | null;
}

const DEMO_PIDS = 64;
/** The docs server's address: host loopback, reached only through the egress proxy. */
const DEMO_HOST = '127.0.0.2';
const DEMO_PROFILE = 'demo';

/**
 * The demo's warden.yaml: the npm filesystem server (bundled into warden's sandbox library at
 * build time) behind the gateway, in a sandbox of its own that sees the workspace read-only; the
 * task grants listing and reading under the workspace, nothing else.
 */
function demoConfig(): Promise<WardenConfig> {
  const text = `version: 1
servers:
  files:
    command: node
    args: [${JSON.stringify(`${SANDBOX_LIB}/mcp-filesystem-server.mjs`)}, "\${workspace}"]
    workspace: read-only
profiles:
  ${DEMO_PROFILE}:
    mcp:
      allow:
        - server: files
          tools: [${DEMO_GRANTED_TOOLS.join(', ')}]
          when: { path: { under: ["\${workspace}"] } }
`;
  return parseConfigText(text, 'warden demo (built-in config)');
}

/** Runs the demo and returns its report (printing it to `out` as it goes). */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const print = (line = ''): void => void options.out?.write(`${line}\n`);
  if (options.prepared.host.lib.filesystemServer === null) {
    throw new WardenError(
      'SANDBOX_UNAVAILABLE',
      "the demo's MCP filesystem server was not built (dist/assets/mcp-filesystem-server.mjs is missing)",
      { hint: 'run npm run build (or scripts/setup.sh)' },
    );
  }
  const config = await demoConfig();
  const root = mkdtempSync(join(tmpdir(), 'warden-demo-'));
  const docs = await serveDocs();
  try {
    const workspace = makeWorkspace(root, options.prepared);
    const hostSecret = join(root, 'host-secrets', 'id_ed25519');
    const docsUrl = `http://${DEMO_HOST}:${docs.port}/docs`;
    const plan: RunPlan = {
      profileName: DEMO_PROFILE,
      agentName: 'demo-agent',
      command: ['/bin/sh', 'agent.sh', docsUrl, hostSecret],
      cwd: workspace,
      workspace,
      readOnly: [],
      writable: [],
      deny: [],
      home: 'ephemeral',
      networkAllow: [`${DEMO_HOST}:${docs.port}`],
      limits: { memoryBytes: 512 * 1024 * 1024, pids: DEMO_PIDS, cpu: 1, timeoutMs: 60_000 },
      env: {},
      acceptMissingLimits: false,
    };

    print('Warden demo: a scripted agent runs in a disposable sandbox.');
    print(`  workspace     ${workspace}`);
    print(`  allowed host  ${DEMO_HOST}:${docs.port} (a docs server the demo runs on the host); nothing else`);
    print(`  limits        512 MiB memory, ${DEMO_PIDS} processes, 1 CPU, 60 s`);
    print(
      `  MCP tools     the npm filesystem server, in its own sandbox behind warden's gateway; the task grants ${DEMO_GRANTED_TOOLS.join(' and ')} under the workspace`,
    );
    print();

    const observed = new Map<string, { verdict: 'allowed' | 'blocked'; detail: string }>();
    let lastGroup = '';
    const audit = openAuditLog({ stateDir: options.stateDir });
    let summary: RunSummary;
    try {
      await recordRecoveredRuns(audit, options.prepared.recovered);
      summary = await runAgent(plan, {
        sink: audit,
        host: options.prepared.host,
        sandboxUser: options.prepared.sandboxUser,
        runtimeRoot: options.prepared.runtimeRoot,
        neverVisible: [options.stateDir, options.prepared.runtimeRoot, join(root, 'host-secrets')],
        stateDir: options.stateDir,
        stdio: 'pipe',
        forwardSignals: true,
        mcp: { config, configPath: null, stateDir: options.stateDir, hostEnv: {} },
        onStarted: ({ stdout, stdin, stderr }) => {
          stdin?.end();
          stderr?.resume();
          let buffered = '';
          stdout?.setEncoding('utf8');
          stdout?.on('data', (chunk: string) => {
            buffered += chunk;
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              const line = buffered.slice(0, newline);
              buffered = buffered.slice(newline + 1);
              const match = /^@@ (\S+) (allowed|blocked) (.*)$/.exec(line);
              const step = match ? DEMO_STEPS.find((s) => s.id === match[1]) : undefined;
              if (match && step) {
                const verdict = match[2] as 'allowed' | 'blocked';
                observed.set(step.id, { verdict, detail: match[3] ?? '' });
                if (step.group !== lastGroup) {
                  print(GROUP_TITLES[step.group]);
                  lastGroup = step.group;
                }
                print(
                  `   ${verdict === 'allowed' ? '+ allowed' : 'x blocked'}  ${step.title.padEnd(52)} ${match[3] ?? ''}`,
                );
              }
              newline = buffered.indexOf('\n');
            }
          });
        },
      });
    } finally {
      await audit.close();
    }

    const verification = verifyAuditLog(options.stateDir);
    const events = readRunEvents(options.stateDir, summary.run_id);
    const steps = DEMO_STEPS.map((step) => judge(step, observed.get(step.id), summary, events, docs.port));

    print();
    print(`Audit trail of ${summary.run_id} (warden audit show ${summary.run_id}):`);
    for (const event of events)
      print(`   #${String(event.seq).padEnd(6)} ${event.type.padEnd(17)} ${describeEvent(event)}`);
    print(
      verification.ok
        ? `   hash chain verified: ${verification.records} records intact`
        : `   HASH CHAIN FAILED: ${verification.problem} ${verification.detail}`,
    );
    print();
    const failed = steps.filter((s) => !s.ok);
    const allowed = steps.filter((s) => s.observed === 'allowed').length;
    const blocked = steps.filter((s) => s.observed === 'blocked').length;
    const calls = events.filter((e): e is Extract<AuditRecord, { type: 'mcp.call' }> => e.type === 'mcp.call');
    // Granted tools first, then the count refused: a list after "refused" read as the refused tools.
    const granted = DEMO_GRANTED_TOOLS.map((t) => `files__${t}`).join(', ');
    const allowedCalls = calls.filter((c) => c.data.decision === 'allow').length;
    const refusedCalls = calls.filter((c) => c.data.decision === 'deny').length;
    print(
      `MCP tool calls: the task grants ${granted} (under the workspace); ${allowedCalls} ${allowedCalls === 1 ? 'call' : 'calls'} allowed, ${refusedCalls} refused.`,
    );
    if (failed.length === 0 && verification.ok) {
      print(`Everything behaved as expected: ${allowed} actions allowed, ${blocked} blocked, all on record.`);
    } else {
      for (const step of failed)
        print(
          `UNEXPECTED: ${step.title}: expected ${step.expect}, observed ${step.observed}${step.evidence === null ? '' : ` (${step.evidence})`}`,
        );
    }
    return {
      ok: failed.length === 0 && verification.ok,
      run: summary,
      steps,
      audit: {
        verified: verification.ok,
        detail: verification.ok ? `${verification.records} records` : verification.detail,
        events,
      },
    };
  } finally {
    await docs.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const GROUP_TITLES: Readonly<Record<DemoStep['group'], string>> = {
  ordinary: ' ordinary work',
  tools: ' tools, through the MCP gateway',
  attack: ' what an injected agent would try',
};

/** The gateway's record of the agent's call of `tool` (the exposed name), the last one if several. */
function mcpCall(events: readonly AuditRecord[], tool: string): Extract<AuditRecord, { type: 'mcp.call' }> | undefined {
  return events
    .filter((e): e is Extract<AuditRecord, { type: 'mcp.call' }> => e.type === 'mcp.call' && e.data.name === tool)
    .at(-1);
}

/** Compares what the agent saw with what should happen, and with independent evidence. */
function judge(
  step: DemoStep,
  seen: { verdict: 'allowed' | 'blocked'; detail: string } | undefined,
  summary: RunSummary,
  events: readonly AuditRecord[],
  docsPort: number,
): DemoStepResult {
  if (seen === undefined)
    return { ...step, observed: 'missing', detail: 'the agent did not report this step', ok: false, evidence: null };
  let evidence: string | null = null;
  let corroborated = true;
  if (step.id === 'fetch-allowed') {
    corroborated = events.some((e) => e.type === 'egress.allowed' && e.data.port === docsPort);
    evidence = corroborated ? 'egress.allowed event recorded' : 'no egress.allowed event';
  } else if (step.id === 'exfil-domain') {
    corroborated = events.some((e) => e.type === 'egress.denied' && e.data.host === 'evil.example.com');
    evidence = corroborated ? 'egress.denied event recorded' : 'no egress.denied event for evil.example.com';
  } else if (step.id === 'mcp-list') {
    const listed = events.filter((e) => e.type === 'mcp.listed');
    corroborated = listed.length > 0;
    evidence = corroborated ? 'mcp.listed recorded what was shown and what was hidden' : 'no mcp.listed event';
  } else if (step.id === 'mcp-read' || step.id === 'mcp-write' || step.id === 'mcp-outside') {
    const tool = step.id === 'mcp-write' ? 'files__write_file' : 'files__read_text_file';
    const call =
      step.id === 'mcp-read'
        ? events.find((e) => e.type === 'mcp.call' && e.data.name === tool && e.data.decision === 'allow')
        : mcpCall(events, tool);
    const want = step.expect === 'allowed' ? 'allow' : 'deny';
    corroborated = call !== undefined && call.type === 'mcp.call' && call.data.decision === want;
    evidence =
      call === undefined || call.type !== 'mcp.call'
        ? `no mcp.call event for ${tool}`
        : `mcp.call ${call.data.decision} [${call.data.policy_ids.join(', ') || 'no policy'}: ${call.data.reason}]`;
  } else if (step.id === 'fork-bomb') {
    // The agent only knows its loop ended; the kernel's pids counter says why. Without a pids
    // cgroup (an ordinary user without delegation) RLIMIT_NPROC holds the limit, and the kernel
    // keeps no count of its refusals: the run's record of what held the limit is the evidence.
    const byRlimit = summary.limits.some((l) => l.limit === 'pids' && l.by === 'rlimit');
    corroborated = summary.limits_hit.includes('pids') || byRlimit;
    evidence = summary.limits_hit.includes('pids')
      ? 'the pids cgroup refused forks'
      : byRlimit
        ? 'RLIMIT_NPROC held the process limit (no cgroup here; the kernel keeps no count of its refusals)'
        : 'the pids limit was not hit';
  }
  return {
    ...step,
    observed: seen.verdict,
    detail: seen.detail,
    ok: seen.verdict === step.expect && corroborated,
    evidence,
  };
}

function readRunEvents(stateDir: string, runId: string): AuditRecord[] {
  const query = new AuditQuery({ stateDir });
  query.open();
  try {
    return query.runEvents(runId);
  } finally {
    query.close();
  }
}

/** The demo workspace: a small project with a git repository (so there are hooks to protect). */
function makeWorkspace(root: string, prepared: PreparedHost): string {
  const workspace = join(root, 'workspace');
  mkdirSync(join(workspace, '.git', 'hooks'), { recursive: true });
  writeFileSync(join(workspace, 'README.md'), '# demo project\n\nThe agent may read and change this workspace.\n');
  writeFileSync(join(workspace, '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = false\n');
  writeFileSync(join(workspace, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(workspace, 'agent.sh'), DEMO_AGENT_SCRIPT, { mode: 0o755 });
  // A "host secret" outside the workspace: the agent must not be able to see it.
  mkdirSync(join(root, 'host-secrets'), { mode: 0o700 });
  writeFileSync(
    join(root, 'host-secrets', 'id_ed25519'),
    '-----BEGIN OPENSSH PRIVATE KEY----- (demo canary) -----END OPENSSH PRIVATE KEY-----\n',
    { mode: 0o600 },
  );
  const user = prepared.sandboxUser;
  if (user !== null) {
    // Under root the sandbox runs as the unprivileged sandbox user: it must own its workspace.
    chmodSync(root, 0o755);
    chownTree(workspace, user.uid, user.gid);
  }
  return workspace;
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}

/** The "allowed host": a docs page served on 127.0.0.1 by the demo itself. */
async function serveDocs(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/docs' ? 200 : 404, { 'content-type': 'text/html' });
    res.end(req.url === '/docs' ? '<h1>API docs</h1><p>Served by the warden demo.</p>\n' : 'not found\n');
  });
  // 127.0.0.2, not .1: NO_PROXY sends 127.0.0.1 straight to the sandbox's own loopback (agents' dev servers).
  await new Promise<void>((resolve) => server.listen(0, DEMO_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
