/**
 * GW-04: arguments are validated against the tool's inputSchema by the gateway itself, before the
 * upstream sees them. The fixture server (fixtures/spec-server.mjs) checks nothing of its own, so
 * a call the gateway failed to validate would reach it and be answered: the upstream's call log
 * and the audit record show which side refused.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { agentAuditEvents, availableModes, gatewayStdioCommand, type Mode } from '../helpers/warden.js';
import { fixtureReadable, invalidArguments, Scene } from './scene.js';

describe.each(availableModes())('GW-04 inputSchema validation in the gateway, warden as %s', (mode: Mode) => {
  let scene: Scene;
  afterEach(() => scene.remove());

  it('GW-04 arguments that break the inputSchema are refused by the gateway (an isError result naming the problem, recorded invalid), never forwarded', async () => {
    scene = new Scene(mode);
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    scene.spec('fix', {
      tools: [
        {
          name: 'say',
          inputSchema: {
            type: 'object',
            properties: { text: { type: 'string', maxLength: 10 }, count: { type: 'integer', minimum: 1 } },
            required: ['text'],
            additionalProperties: false,
          },
        },
      ],
    });
    scene.configure(['fix'], { allow: [{ server: 'fix', tools: ['say'] }] });
    const agent = `gw04-schema-${process.pid}-${Date.now().toString(36)}`;
    const client = new Client({ name: 'gw04', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        ...gatewayStdioCommand(mode, { workspace: scene.workspace, config: scene.config, agent }),
        stderr: 'pipe',
      }),
    );
    const invalid = [
      { text: 'far longer than ten characters' },
      { text: 'ok', extra: 'not in the schema' },
      { text: 'ok', count: 0 },
      { count: 2 },
      { text: 42 },
    ];
    try {
      for (const args of invalid) {
        // An isError tool result the model can read and correct itself by (2025-11-25), not a JSON-RPC error.
        const text = await invalidArguments(client.callTool({ name: 'fix__say', arguments: args }));
        expect(text, JSON.stringify(args)).toContain('Invalid arguments for tool fix__say');
      }
      // Control: valid arguments are forwarded and answered.
      const ok = await client.callTool({ name: 'fix__say', arguments: { text: 'hello', count: 2 } });
      expect(JSON.stringify(ok.content)).toContain('say ran with');
    } finally {
      await client.close();
    }
    // Only the valid call reached the server.
    expect(scene.upstreamCalls('fix')).toEqual([['say', { text: 'hello', count: 2 }]]);
    const records = (await agentAuditEvents(mode, scene.workspace, agent)).filter((e) => e.type === 'mcp.call');
    expect(records.map((r) => [r.data.outcome, r.data.reason])).toEqual([
      ...invalid.map(() => ['invalid', 'arguments do not match the inputSchema']),
      ['ok', expect.anything()],
    ]);
  });
});
