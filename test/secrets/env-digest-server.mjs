// A stdio MCP server for the secret tests: its one tool, `digest`, answers the SHA-256 (hex) of
// the variable named in its argument as this server's sandbox sees it, or "unset" — so a test can
// prove a secret reached the server without the secret itself crossing to the agent.
//
//   node env-digest-server.mjs
import { createHash } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'env-digest', version: '1.0.0' });
server.registerTool(
  'digest',
  { description: 'Returns the SHA-256 of an environment variable of this server.', inputSchema: { name: z.string() } },
  ({ name }) => {
    const value = process.env[name];
    const text = value === undefined ? 'unset' : createHash('sha256').update(value).digest('hex');
    return { content: [{ type: 'text', text }] };
  },
);
await server.connect(new StdioServerTransport());
