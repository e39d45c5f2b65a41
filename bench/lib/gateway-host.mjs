// For bench/gateway.mjs's breakdown rows: warden's gateway built from src/ (the same Gateway,
// policy engine, strict stdio endpoint and audit log as `warden gateway --stdio`), but with the
// upstream started as a plain child process instead of in a sandbox, and optionally without the
// audit log. Serves MCP on stdin/stdout until stdin ends, like the CLI.
//
// usage: node gateway-host.mjs BUNDLE CONFIG WORKSPACE (AUDIT_STATE_DIR | none)
// BUNDLE is a CommonJS bundle that bench/gateway.mjs builds from src/ with esbuild.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [bundle, configPath, workspace, audit] = process.argv.slice(2);
const { default: w } = await import(bundle);
const { config, path } = await w.loadConfig(workspace, configPath);
const agent = { name: 'gateway-bench', run_id: w.newRunId() };
const { profile, compiled, engine } = w.buildPolicy({
  config,
  configPath: path,
  profileName: 'default',
  workspace,
  agent,
});
// No audit: every append "succeeds" at once (the gateway still awaits it).
const sink =
  audit === 'none'
    ? { append: () => Promise.resolve({}), close: () => Promise.resolve() }
    : w.openAuditLog({
        stateDir: w.ensureStateDir(audit),
        // As the CLI's gateway: audit writes in their own thread (the repo's build of it).
        writerThread: join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'assets', 'audit-writer.cjs'),
      });
const key = audit === 'none' ? randomBytes(32) : w.derivedKey(audit, 'mcp argument digests');
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', LANG: 'C.UTF-8' };

/** Starts the server's command as a plain child process (no sandbox, no egress proxy). */
async function launch(name) {
  const server = config.servers[name];
  const child = spawn(server.command, server.args, { cwd: workspace, env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const gateway = await w.Gateway.start({
  profileName: 'default',
  agent,
  workspace,
  policy: engine,
  compiled,
  launch,
  sink,
  redactor: new w.ArgumentRedactor(key, profile.mcp.sensitive_arguments),
  callTimeoutMs: profile.mcp.call_timeout,
  maxResultBytes: w.MAX_RESULT_BYTES,
});
await w.serveStdio(gateway, { input: process.stdin, output: process.stdout });
await gateway.close();
await sink.close();
process.exit(0);
