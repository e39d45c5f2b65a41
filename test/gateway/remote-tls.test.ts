/**
 * SCAN-06 for remote servers: a catalog url entry's TLS pin (tls_spki_sha256, the sha256 of the
 * server certificate's SubjectPublicKeyInfo). A local HTTPS MCP server (node:https and the SDK's
 * Streamable HTTP server transport) with a self-signed certificate made by openssl: reached
 * through the remote bridge in its sandbox and egress proxy, it is trusted only through its pin;
 * unpinned, Node's own verification refuses it as before; a wrong pin keeps it from being used,
 * naming expected and seen keys, on record.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { spkiSha256 } from '../../src/core/tls-key.js';
import {
  agentAuditEvents,
  availableModes,
  gatewayStdioCommand,
  makeWorkspace,
  modeUser,
  removeWorkspace,
  userIds,
  warden,
  type Mode,
} from '../helpers/warden.js';

/** Host loopback, but not 127.0.0.1: the bridge's proxy must allow exactly this address. */
const REMOTE_HOST = '127.0.0.2';

/** A self-signed certificate for REMOTE_HOST (openssl), and its key pin. */
function selfSigned(dir: string, name: string): { key: Buffer; cert: Buffer; pin: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${REMOTE_HOST}`,
      '-addext',
      `subjectAltName=IP:${REMOTE_HOST}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const pem = readFileSync(cert);
  return { key: readFileSync(key), cert: pem, pin: spkiSha256(new X509Certificate(pem)) };
}

let dir = '';
let server: HttpsServer | null = null;
let url = '';
let served: { pin: string } = { pin: '' };
/** Another key, never served: the pin of a server that is not this one. */
let other = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-tls-pin-'));
  const tls = selfSigned(dir, 'server');
  served = { pin: tls.pin };
  other = selfSigned(dir, 'other').pin;
  // A stateless MCP server: one McpServer and transport per request.
  server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const mcp = new McpServer({ name: 'tls-fixture', version: '1.0.0' });
    mcp.registerTool('echo', { description: 'Echoes its text.', inputSchema: { text: z.string() } }, ({ text }) => ({
      content: [{ type: 'text', text: `echo: ${text}` }],
    }));
    const transport = new StreamableHTTPServerTransport({});
    res.on('close', () => void transport.close());
    void mcp.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => server?.listen(0, REMOTE_HOST, resolve));
  url = `https://${REMOTE_HOST}:${(server.address() as AddressInfo).port}/mcp`;
}, 30_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server?.closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
});

/** warden.yaml with the remote server (by the catalog entry `remote`, or by URL), and the catalog when `pin` is given. */
function project(workspace: string, pin: string | null): string {
  const root = dirname(workspace);
  const config = join(root, 'warden.yaml');
  writeFileSync(
    config,
    `version: 1\nservers:\n  remote:\n    ${pin === null ? `url: ${JSON.stringify(url)}` : 'catalog: remote'}\nprofiles:\n  default:\n    mcp:\n      allow:\n        - server: remote\n          tools: [echo]\n`,
    { mode: 0o644 },
  );
  if (pin !== null)
    writeFileSync(
      join(root, 'warden.catalog.yaml'),
      `version: 1\nservers:\n  remote:\n    url: ${JSON.stringify(url)}\n    tls_spki_sha256: ${pin}\n`,
      { mode: 0o644 },
    );
  return config;
}

/** The bridge runs under the host's node: the sandbox must find it on /usr/local/bin:/usr/bin:/bin. */
const nodeOnSandboxPath =
  spawnSync('/bin/sh', ['-c', 'PATH=/usr/local/bin:/usr/bin:/bin command -v node']).status === 0;

describe.each(availableModes())('SCAN-06 TLS pins of remote servers (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => {
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it('SCAN-06 warden catalog add https://… records the TLS key the server presents (sha256 of its SPKI)', async () => {
    workspace = makeWorkspace(mode);
    const config = project(workspace, null);
    // warden (as the mode's user) writes warden.catalog.yaml beside warden.yaml.
    const ids = modeUser(mode) === null ? null : userIds(modeUser(mode) ?? '');
    if (ids !== null) chownSync(dirname(workspace), ids.uid, ids.gid);
    const added = await warden(mode, ['--config', config, 'catalog', 'add', url, '--name', 'remote'], {
      cwd: workspace,
    });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`tls_spki_sha256 ${served.pin}`);
    const catalog = readFileSync(join(dirname(workspace), 'warden.catalog.yaml'), 'utf8');
    expect(catalog).toContain(`tls_spki_sha256: ${served.pin}`);
    // --no-tls-pin pins the URL alone.
    const bare = await warden(
      mode,
      ['--config', config, 'catalog', 'add', url, '--name', 'bare', '--no-tls-pin', '--json'],
      { cwd: workspace },
    );
    expect(bare.code, bare.stderr).toBe(0);
    expect(JSON.parse(bare.stdout)).toMatchObject({ pinned: { url } });
    expect((JSON.parse(bare.stdout) as { pinned: object }).pinned).not.toHaveProperty('tls_spki_sha256');
  }, 60_000);

  it.skipIf(!nodeOnSandboxPath)(
    'SCAN-06 a remote server with a self-signed certificate is used through its TLS pin: tools listed and called through the gateway',
    async () => {
      workspace = makeWorkspace(mode);
      const config = project(workspace, served.pin);
      const client = new Client({ name: 'tls-pin-test', version: '1.0.0' });
      await client.connect(
        new StdioClientTransport({
          ...gatewayStdioCommand(mode, { workspace, config, agent: `tls-pin-${basename(dirname(workspace))}` }),
          stderr: 'pipe',
        }),
      );
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['remote__echo']);
        expect((await client.callTool({ name: 'remote__echo', arguments: { text: 'pinned' } })).content).toEqual([
          { type: 'text', text: 'echo: pinned' },
        ]);
      } finally {
        await client.close();
      }
    },
    60_000,
  );

  it.skipIf(!nodeOnSandboxPath)(
    'SCAN-06 unpinned, the same self-signed server is refused by the usual certificate checks (a pin elsewhere weakens nothing)',
    async () => {
      workspace = makeWorkspace(mode);
      const config = project(workspace, null);
      const listed = await warden(mode, ['--config', config, 'tools', 'ls'], { cwd: workspace });
      expect(listed.stderr).toContain("MCP server 'remote' did not start");
      expect(listed.stderr).toMatch(/self[- ]signed|certificate/i);
      expect(listed.stdout).not.toContain('remote__echo');
    },
    60_000,
  );

  it.skipIf(!nodeOnSandboxPath)(
    'SCAN-06 a remote server whose TLS key is not the pinned one is not used: PROVENANCE_MISMATCH naming the expected and seen keys, an mcp.server failed event',
    async () => {
      workspace = makeWorkspace(mode);
      const config = project(workspace, other);
      const agent = `tls-mismatch-${basename(dirname(workspace))}`;
      const result = await warden(
        mode,
        ['--config', config, 'gateway', '--stdio', '--workspace', workspace, '--agent', agent],
        { cwd: workspace, input: '', timeoutMs: 45_000 },
      );
      expect(result.stderr).toContain("MCP server 'remote' did not start");
      expect(result.stderr).toContain(
        `PROVENANCE_MISMATCH: the TLS key of ${REMOTE_HOST}:${new URL(url).port} does not match the catalog's pin: expected tls_spki_sha256 ${other}, seen ${served.pin}`,
      );
      const events = await agentAuditEvents(mode, workspace, agent);
      const failed = events.find((e) => e.type === 'mcp.server' && e.data.state === 'failed');
      expect(String(failed?.data.detail)).toContain(`expected tls_spki_sha256 ${other}, seen ${served.pin}`);
    },
    60_000,
  );
});
