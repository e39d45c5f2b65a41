/**
 * `warden gateway --listen` with tokens from `warden token issue`, as an agent outside
 * `warden run` meets it: the MCP SDK's real Streamable HTTP client, the built CLI, a fixture
 * server in its own sandbox (fixtures/spec-server.mjs) that logs every request it receives.
 *
 *   GW-07 the agent's token is never forwarded upstream; a token for another audience is 401;
 *         a token without the needed scope is 403 insufficient_scope;
 *   GW-08 the endpoint binds loopback, checks Host, and binds sessions to the token's agent.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  availableModes,
  giveToSandbox,
  warden,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';
import { LATEST, Scene, fixtureReadable } from './scene.js';

interface Listening {
  readonly url: string;
  readonly pid: number;
  readonly done: Promise<WardenResult>;
}

/** Starts `warden gateway --listen 127.0.0.1:0` and resolves once it prints its URL. */
async function listen(s: Scene, agent: string): Promise<Listening> {
  let pid = -1;
  let text = '';
  let found: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (found = resolve));
  const done = warden(
    s.mode,
    ['--config', s.config, 'gateway', '--listen', '127.0.0.1:0', '--workspace', s.workspace, '--agent', agent],
    {
      cwd: s.workspace,
      timeoutMs: 90_000,
      onSpawn: (p) => (pid = p),
      onStderr: (chunk) => {
        text += chunk;
        const match = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(text);
        if (match?.[1] !== undefined) found(match[1]);
      },
    },
  );
  const first = await Promise.race([url, done.then((r) => r)]);
  if (typeof first !== 'string')
    throw new Error(`the gateway exited before listening (${String(first.code)}): ${first.stderr}`);
  return { url: first, pid, done };
}

async function issue(s: Scene, args: readonly string[]): Promise<string> {
  const result = await warden(s.mode, ['--config', s.config, 'token', 'issue', ...args], { cwd: s.workspace });
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

/** A raw POST of an initialize request; returns the status and the WWW-Authenticate header. */
function rawInitialize(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; authenticate: string | undefined; body: string }> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, authenticate: res.headers['www-authenticate'], body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe.each(availableModes())('warden gateway --listen (warden as %s)', (mode: Mode) => {
  let scene: Scene | null = null;
  let gateway: Listening | null = null;
  afterEach(async () => {
    if (gateway !== null) {
      process.kill(gateway.pid, 'SIGKILL');
      await gateway.done;
      gateway = null;
    }
    scene?.remove();
    scene = null;
  });

  it.skipIf(!fixtureReadable(mode))(
    'GW-07 GW-08 ID-04 tokens: granted calls work, a revoked token is refused from the next request, the token never reaches the upstream, other audiences 401, missing scope 403, sessions bound to the agent',
    async () => {
      const s = (scene = new Scene(mode));
      s.spec('svc', { tools: [{ name: 'say' }, { name: 'secret' }] });
      s.configure(['svc'], { allow: [{ server: 'svc', tools: ['say'] }] });
      // A second profile, so a token can be issued for another gateway (audience).
      const config = JSON.parse(readFileSync(s.config, 'utf8')) as { profiles: Record<string, unknown> };
      config.profiles['other'] = {};
      writeFileSync(s.config, JSON.stringify(config));
      giveToSandbox(mode, s.workspace);
      const agentName = `gw-listen-${Date.now()}`;
      gateway = await listen(s, agentName);

      const good = await issue(s, ['--agent', 'ci-bot', '--ttl', '10m']);
      const otherAudience = await issue(s, ['--agent', 'ci-bot', '--profile', 'other']);
      const noScope = await issue(s, ['--agent', 'ci-bot', '--scope', 'read']);

      // The real SDK client with a good token: only the granted tool, and calls work.
      const client = new Client({ name: 'listen-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(gateway.url), {
          requestInit: { headers: { Authorization: `Bearer ${good}` } },
        }),
      );
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['svc__say']);
        const said = await client.callTool({ name: 'svc__say', arguments: { text: 'hello' } });
        expect(JSON.stringify(said.content)).toContain('say ran with {\\"text\\":\\"hello\\"}');
        await expect(client.callTool({ name: 'svc__secret', arguments: {} })).rejects.toMatchObject({ code: -32602 });
      } finally {
        await client.close();
      }

      // GW-07: the upstream saw the call, and nothing of the agent's credential.
      const log = s.upstreamLog('svc');
      expect(log.filter((e) => e.event === 'call').map((e) => e.name)).toEqual(['say']);
      const logText = readFileSync(`${s.workspace}/.calls-svc.jsonl`, 'utf8');
      expect(logText).not.toContain(good);
      expect(logText).not.toContain(good.split('.')[2] ?? 'unreachable');
      expect(logText.toLowerCase()).not.toContain('bearer');

      // GW-07: no token, a token for another profile's gateway, a forged one: 401; no scope: 403.
      const none = await rawInitialize(gateway.url, {});
      expect(none.status).toBe(401);
      expect(none.authenticate).toMatch(/^Bearer error="invalid_token"/);
      const foreign = await rawInitialize(gateway.url, { authorization: `Bearer ${otherAudience}` });
      expect(foreign.status).toBe(401);
      expect(foreign.body).toContain('another audience');
      const forged = await rawInitialize(gateway.url, { authorization: `Bearer ${good.slice(0, -4)}AAAA` });
      expect(forged.status).toBe(401);
      const scopeless = await rawInitialize(gateway.url, { authorization: `Bearer ${noScope}` });
      expect(scopeless.status).toBe(403);
      expect(scopeless.authenticate).toMatch(/^Bearer error="insufficient_scope"/);

      // GW-08: a request naming another Host (DNS rebinding) is refused even with a good token.
      const port = new URL(gateway.url).port;
      const rebound = await rawInitialize(gateway.url, {
        authorization: `Bearer ${good}`,
        host: `evil.example:${port}`,
      });
      expect(rebound.status).toBe(403);

      // GW-07: `warden token revoke` takes effect at the running gateway from the next request.
      const spare = await issue(s, ['--agent', 'spare-bot']);
      expect((await rawInitialize(gateway.url, { authorization: `Bearer ${good}` })).status).toBe(200);
      const revoked = await warden(mode, ['--config', s.config, 'token', 'revoke', '--token', good, '--json'], {
        cwd: s.workspace,
      });
      expect(revoked.code, revoked.stderr).toBe(0);
      const afterRevoke = await rawInitialize(gateway.url, { authorization: `Bearer ${good}` });
      expect(afterRevoke.status).toBe(401);
      expect(afterRevoke.body).toContain('revoked');
      expect((await rawInitialize(gateway.url, { authorization: `Bearer ${spare}` })).status).toBe(200);
      const bad = await warden(
        mode,
        ['--config', s.config, 'token', 'revoke', '--token', otherAudience.slice(0, -4) + 'AAAA'],
        { cwd: s.workspace },
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('TOKEN_INVALID');

      // Every call is on record under the gateway's run, labelled with the token's agent.
      process.kill(gateway.pid, 'SIGTERM');
      const ended = await gateway.done;
      gateway = null;
      expect(ended.code, ended.stderr).toBe(0);
      const events = await agentAuditEvents(mode, s.workspace, agentName);
      expect(events.at(-1)).toMatchObject({ type: 'run.ended', data: { reason: 'exited' } });
      const calls = events
        .filter((e) => e.type === 'mcp.call')
        .map((e) => [e.data['name'], e.data['outcome'], String(e.data['session']).split('/')[0]]);
      expect(calls).toEqual([
        ['svc__say', 'ok', 'ci-bot'],
        ['svc__secret', 'denied', 'ci-bot'],
      ]);
      expect(events.filter((e) => e.type === 'mcp.rejected').length).toBeGreaterThanOrEqual(6);
      expect(events.some((e) => e.type === 'mcp.rejected' && String(e.data['reason']).includes('revoked'))).toBe(true);
    },
  );

  it('GW-08 --listen refuses a non-loopback address (no TLS), and bad token requests are usage errors', async () => {
    const s = (scene = new Scene(mode));
    s.configure([], {});
    const wide = await warden(mode, ['--config', s.config, 'gateway', '--listen', '0.0.0.0:3130'], {
      cwd: s.workspace,
    });
    expect(wide.code).toBe(2);
    expect(wide.stderr).toMatch(/loopback only/);
    const ttl = await warden(mode, ['--config', s.config, 'token', 'issue', '--agent', 'a', '--ttl', '2d'], {
      cwd: s.workspace,
    });
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toMatch(/--ttl '2d' is not valid/);
    const name = await warden(mode, ['--config', s.config, 'token', 'issue', '--agent', 'bad name'], {
      cwd: s.workspace,
    });
    expect(name.code).toBe(2);
    const profile = await warden(mode, ['--config', s.config, 'token', 'issue', '--agent', 'a', '--profile', 'nope'], {
      cwd: s.workspace,
    });
    expect(profile.code).toBe(2);
    expect(profile.stderr).toMatch(/profile 'nope' is not defined/);
  });
});
