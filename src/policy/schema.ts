/**
 * The Warden Cedar schema: what policies may talk about. Compiled and user-written policies are
 * validated against it (strict mode) before a gateway starts, so a typo in an attribute name is
 * a start-up error, never a policy that silently never matches.
 *
 *   principal  Warden::Agent    { name, profile }
 *   resource   Warden::Tool     { name, server }  in Warden::Server
 *              Warden::Prompt   { name, server }  in Warden::Server
 *              Warden::Resource { uri,  server }  in Warden::Server
 *   actions    list_tool, call_tool, list_prompt, get_prompt, list_resource, read_resource
 *   context    call_tool: { args: { <arg>?: String }, hosts: { <arg>?: String }, ports: { <arg>?: Long } }
 *
 * Tool annotations (readOnlyHint, …) are deliberately absent: they come from the upstream and are
 * untrusted hints, never grounds for a grant (GW-09).
 */
import type { Schema } from '@cedar-policy/cedar-wasm/nodejs';

export const NAMESPACE = 'Warden';
export const ENTITY = {
  agent: `${NAMESPACE}::Agent`,
  server: `${NAMESPACE}::Server`,
  tool: `${NAMESPACE}::Tool`,
  prompt: `${NAMESPACE}::Prompt`,
  resource: `${NAMESPACE}::Resource`,
  action: `${NAMESPACE}::Action`,
} as const;

export const ACTIONS = [
  'list_tool',
  'call_tool',
  'list_prompt',
  'get_prompt',
  'list_resource',
  'read_resource',
] as const;
export type PolicyAction = (typeof ACTIONS)[number];

/** The argument names the context carries, by how the gateway derives them. */
export interface ContextShape {
  /** Arguments carried as text (paths after normalisation, URLs after normalisation, scalars). */
  readonly args: readonly string[];
  /** URL arguments whose host and port are also carried. */
  readonly urls: readonly string[];
}

type Attr = { type: 'String' | 'Long'; required: boolean };

function record(
  names: readonly string[],
  type: 'String' | 'Long',
): { type: 'Record'; attributes: Record<string, Attr> } {
  return { type: 'Record', attributes: Object.fromEntries(names.map((n) => [n, { type, required: false }])) };
}

/** The schema as Cedar's JSON format; `shape` lists the argument names the policies may use. */
export function wardenSchema(shape: ContextShape): Schema {
  const named = {
    type: 'Record' as const,
    attributes: { name: { type: 'String' as const }, server: { type: 'String' as const } },
  };
  const empty = { type: 'Record' as const, attributes: {} };
  const callContext = {
    type: 'Record' as const,
    attributes: {
      args: record(shape.args, 'String'),
      hosts: record(shape.urls, 'String'),
      ports: record(shape.urls, 'Long'),
    },
  };
  const applies = (resource: string, context: object) => ({
    appliesTo: { principalTypes: ['Agent'], resourceTypes: [resource], context },
  });
  return {
    [NAMESPACE]: {
      entityTypes: {
        Agent: { shape: { type: 'Record', attributes: { name: { type: 'String' }, profile: { type: 'String' } } } },
        Server: {},
        Tool: { memberOfTypes: ['Server'], shape: named },
        Prompt: { memberOfTypes: ['Server'], shape: named },
        Resource: {
          memberOfTypes: ['Server'],
          shape: { type: 'Record', attributes: { uri: { type: 'String' }, server: { type: 'String' } } },
        },
      },
      actions: {
        list_tool: applies('Tool', empty),
        call_tool: applies('Tool', callContext),
        list_prompt: applies('Prompt', empty),
        get_prompt: applies('Prompt', empty),
        list_resource: applies('Resource', empty),
        read_resource: applies('Resource', empty),
      },
    },
  } as Schema;
}
