/**
 * One agent session: an SDK `Server` whose handlers ask the gateway. The SDK does the protocol
 * (initialize, version negotiation, ping, cancellation, progress plumbing); every request reaches
 * it only after the transport's strict boundary (jsonrpc-boundary.ts) accepted it.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListRootsResultSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { WARDEN_VERSION } from '../core/version.js';
import { RPC } from './errors.js';
import type { Gateway } from './gateway.js';

/** Each request a server may have relayed to the agent: the client capability it needs, its result schema. */
const RELAYED: Readonly<
  Record<
    string,
    {
      readonly capability: 'sampling' | 'elicitation' | 'roots';
      readonly result: typeof CreateMessageResultSchema | typeof ElicitResultSchema | typeof ListRootsResultSchema;
    }
  >
> = {
  'sampling/createMessage': { capability: 'sampling', result: CreateMessageResultSchema },
  'elicitation/create': { capability: 'elicitation', result: ElicitResultSchema },
  'roots/list': { capability: 'roots', result: ListRootsResultSchema },
};

/**
 * The gateway answers every list whole and never hands out a cursor, so any cursor is one it did
 * not issue: -32602, as the spec asks for an invalid cursor (not the whole list again).
 */
function refuseCursor(cursor: string | undefined): void {
  if (cursor !== undefined)
    throw new McpError(RPC.invalidParams, 'invalid cursor: the gateway returns each list whole and issues no cursors');
}

/** A list answer with the servers' list-level `_meta` (Gateway.listMeta), when there is any. */
function withMeta<T extends object>(result: T, meta: Record<string, unknown> | undefined): T {
  return meta === undefined ? result : { ...result, _meta: meta };
}

/**
 * An SDK server for one session, wired to `gateway`. Close it to detach. `subject` is who the
 * session acts for (a token's agent; one value for every session of a `warden run`): requests
 * and logs a server sends are relayed only while all connected sessions share one subject.
 */
export function createSessionServer(gateway: Gateway, session: string, subject = 'agent'): Server {
  const server = new Server(
    { name: 'warden-gateway', version: WARDEN_VERSION },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        logging: {},
        completions: {},
      },
      instructions: gateway.instructions(),
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    refuseCursor(request.params?.cursor);
    return withMeta({ tools: await gateway.listTools(session) }, gateway.listMeta('tools'));
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const token = request.params._meta?.progressToken;
    let progressed = false;
    const result = await gateway.callTool(session, request.params.name, request.params.arguments, {
      signal: extra.signal,
      requestId: extra.requestId,
      ...(token === undefined
        ? {}
        : {
            onProgress: (p) => {
              progressed = true;
              void extra
                .sendNotification({ method: 'notifications/progress', params: { ...p, progressToken: token } })
                .catch(() => undefined);
            },
          }),
    });
    // The SDK's client drops a progress notification that arrives in the same read as its result
    // (it runs notification handlers a microtask late, settles responses at once): one turn of
    // the event loop lets the last progress leave in its own write. Only calls that had progress.
    if (progressed) await new Promise((next) => setImmediate(next));
    return result;
  });
  server.setRequestHandler(ListPromptsRequestSchema, async (request) => {
    refuseCursor(request.params?.cursor);
    return withMeta({ prompts: await gateway.listPrompts(session) }, gateway.listMeta('prompts'));
  });
  server.setRequestHandler(GetPromptRequestSchema, async (request, extra) =>
    gateway.getPrompt(session, request.params.name, request.params.arguments, {
      signal: extra.signal,
      requestId: extra.requestId,
    }),
  );
  server.setRequestHandler(ListResourcesRequestSchema, async (request) => {
    refuseCursor(request.params?.cursor);
    return withMeta({ resources: await gateway.listResources(session) }, gateway.listMeta('resources'));
  });
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (request) => {
    refuseCursor(request.params?.cursor);
    return withMeta(
      { resourceTemplates: await gateway.listResourceTemplates() },
      gateway.listMeta('resourceTemplates'),
    );
  });
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
    gateway.readResource(session, request.params.uri, { signal: extra.signal, requestId: extra.requestId }),
  );

  server.setRequestHandler(CompleteRequestSchema, async (request, extra) =>
    gateway.complete(session, request.params, { signal: extra.signal, requestId: extra.requestId }),
  );
  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    await gateway.setLogLevel(request.params.level);
    return {};
  });
  server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    await gateway.subscribe(session, request.params.uri, { signal: extra.signal, requestId: extra.requestId });
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async (request, extra) => {
    await gateway.unsubscribe(session, request.params.uri, { signal: extra.signal, requestId: extra.requestId });
    return {};
  });

  // Requests the session's servers send the agent (relayed only where the profile says so). The
  // SDK refuses a method the agent's client did not declare (e.g. no sampling capability).
  const detachPeer = gateway.attachSession(session, subject, {
    request: (method, params, options) => {
      const relayed = RELAYED[method];
      if (relayed === undefined)
        return Promise.reject(new McpError(RPC.methodNotFound, `warden does not relay ${method.slice(0, 80)}`));
      if (server.getClientCapabilities()?.[relayed.capability] === undefined) {
        return Promise.reject(
          new McpError(
            RPC.methodNotFound,
            `the agent's MCP client does not support ${relayed.capability} (it did not declare the capability)`,
          ),
        );
      }
      const schema = relayed.result;
      return server.request({ method, params }, schema, {
        signal: options.signal,
        timeout: options.timeoutMs,
        maxTotalTimeout: options.timeoutMs,
        ...(options.relatedRequestId === undefined ? {} : { relatedRequestId: options.relatedRequestId }),
      });
    },
    notify: (method, params, relatedRequestId) =>
      server.notification({ method, params }, relatedRequestId === undefined ? undefined : { relatedRequestId }),
  });

  const detach = gateway.onListChanged(() => {
    void server.sendToolListChanged().catch(() => undefined);
    void server.sendPromptListChanged().catch(() => undefined);
    void server.sendResourceListChanged().catch(() => undefined);
  });
  const previous = server.onclose;
  server.onclose = () => {
    detach();
    detachPeer();
    gateway.forgetSession(session);
    previous?.();
  };
  return server;
}
