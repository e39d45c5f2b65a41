// The upstream MCP server of bench/gateway.mjs: three identical tools, `echo`, `echo_checked` and
// `echo_path`, answering at once with their `message` argument (so result size and server work are
// the same for every call). Three names only so that warden's profile can grant one plainly, one
// with a value condition and one with a path condition (whose path warden resolves on every call).
// Stdio, written with the MCP SDK's low-level Server (the SDK does the protocol, as in most real
// servers; no zod schema of our own). It does nothing on its own: no timers, no notifications, no
// logging, so it adds no noise between calls. Run directly by the bench (the "direct" peer) and
// sandboxed behind `warden gateway --stdio` (the "warden" peer), from the same file.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const inputSchema = {
  type: 'object',
  properties: { message: { type: 'string' } },
  required: ['message'],
  additionalProperties: false,
};
const TOOLS = [
  { name: 'echo', description: 'Returns its message.', inputSchema },
  { name: 'echo_checked', description: 'Returns its message (same as echo).', inputSchema },
  {
    name: 'echo_path',
    description: 'Returns its message (same as echo; the path is not opened).',
    inputSchema: {
      type: 'object',
      properties: { message: { type: 'string' }, path: { type: 'string' } },
      required: ['message', 'path'],
      additionalProperties: false,
    },
  },
];
const NAMES = new Set(TOOLS.map((t) => t.name));

const server = new Server({ name: 'bench-echo', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
server.setRequestHandler(CallToolRequestSchema, (request) => {
  if (!NAMES.has(request.params.name))
    return { content: [{ type: 'text', text: `unknown tool ${request.params.name}` }], isError: true };
  return { content: [{ type: 'text', text: String(request.params.arguments?.message ?? '') }] };
});
await server.connect(new StdioServerTransport());
