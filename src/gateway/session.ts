/**
 * One agent session: an SDK `Server` whose handlers ask the gateway. The SDK does the protocol
 * (initialize, version negotiation, ping, cancellation, progress plumbing); every request reaches
 * it only after the transport's strict boundary (jsonrpc-boundary.ts) accepted it.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { WARDEN_VERSION } from '../core/version.js';
import type { Gateway } from './gateway.js';

const INSTRUCTIONS = 'Warden MCP gateway: tools, prompts and resources granted to this task by its profile. Tool names are server__tool. Every call is decided by policy and audited.';

/** An SDK server for one session, wired to `gateway`. Close it to detach. */
export function createSessionServer(gateway: Gateway, session: string): Server {
  const server = new Server(
    { name: 'warden-gateway', version: WARDEN_VERSION },
    { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } }, instructions: INSTRUCTIONS },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await gateway.listTools(session) }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const token = request.params._meta?.progressToken;
    return gateway.callTool(session, request.params.name, request.params.arguments, {
      signal: extra.signal,
      ...(token === undefined
        ? {}
        : { onProgress: (p) => void extra.sendNotification({ method: 'notifications/progress', params: { ...p, progressToken: token } }).catch(() => undefined) }),
    });
  });
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: await gateway.listPrompts(session) }));
  server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => gateway.getPrompt(session, request.params.name, request.params.arguments, { signal: extra.signal }));
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: await gateway.listResources(session) }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: gateway.listResourceTemplates() }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => gateway.readResource(session, request.params.uri, { signal: extra.signal }));

  const detach = gateway.onListChanged(() => {
    void server.sendToolListChanged().catch(() => undefined);
    void server.sendPromptListChanged().catch(() => undefined);
    void server.sendResourceListChanged().catch(() => undefined);
  });
  const previous = server.onclose;
  server.onclose = () => {
    detach();
    previous?.();
  };
  return server;
}
