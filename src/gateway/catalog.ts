/**
 * The aggregated catalogue the agent sees: every upstream's tools and prompts under
 * collision-free names matching ^[a-zA-Z0-9_-]{1,64}$ (GW-03) — `server__name` by default, or
 * the upstream's own name (profiles.<name>.mcp.names: upstream), where two servers offering one
 * name is a collision — and resources by URI with the server that owns each. Names that cannot
 * be exposed safely are rejected with a reason, never silently rewritten into something that
 * could collide.
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';

export const EXPOSED_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const NAME_SEPARATOR = '__';

/** How exposed names are made (profiles.<name>.mcp.names). */
export const NAMING_MODES = ['prefixed', 'upstream'] as const;
export type Naming = (typeof NAMING_MODES)[number];

export interface CatalogEntry<T> {
  readonly exposed: string;
  readonly server: string;
  readonly upstreamName: string;
  readonly item: T;
}

export interface Rejected {
  readonly server: string;
  readonly name: string;
  readonly reason: string;
}

export interface ServerOffer {
  readonly server: string;
  readonly tools: readonly Tool[];
  readonly prompts: readonly Prompt[];
  readonly resources: readonly Resource[];
  readonly resourceTemplates: readonly ResourceTemplate[];
}

export interface Catalog {
  readonly tools: ReadonlyMap<string, CatalogEntry<Tool>>;
  readonly prompts: ReadonlyMap<string, CatalogEntry<Prompt>>;
  /** Resource URI → owner. A URI offered by two servers belongs to neither (ambiguous). */
  readonly resources: ReadonlyMap<string, CatalogEntry<Resource>>;
  readonly resourceTemplates: readonly CatalogEntry<ResourceTemplate>[];
  /** Names that could not be exposed, and collisions (case variants included). */
  readonly rejected: readonly Rejected[];
  readonly collisions: readonly string[];
}

/** The name the agent sees for `name` of `server`. */
export function exposedName(server: string, name: string, naming: Naming = 'prefixed'): string {
  return naming === 'upstream' ? name : `${server}${NAME_SEPARATOR}${name}`;
}

function expose<T extends { name: string }>(
  offers: readonly { server: string; items: readonly T[] }[],
  kind: string,
  naming: Naming,
  rejected: Rejected[],
  collisions: string[],
): Map<string, CatalogEntry<T>> {
  const byExposed = new Map<string, CatalogEntry<T>>();
  const byFolded = new Map<string, CatalogEntry<T>>();
  for (const { server, items } of offers) {
    for (const item of items) {
      if ((item as { execution?: { taskSupport?: unknown } }).execution?.taskSupport === 'required') {
        // The gateway does not run tasks (2025-11-25) yet: a tool that only runs as one is hidden.
        rejected.push({
          server,
          name: item.name.slice(0, 80),
          reason: 'runs only as a task (execution.taskSupport: required); the gateway does not support tasks',
        });
        continue;
      }
      const exposed = exposedName(server, item.name, naming);
      if (!EXPOSED_NAME.test(exposed)) {
        rejected.push({
          server,
          name: item.name.slice(0, 80),
          reason:
            naming === 'upstream'
              ? `${kind} name does not fit ^[a-zA-Z0-9_-]{1,64}$`
              : `${kind} name does not fit ^[a-zA-Z0-9_-]{1,64}$ once prefixed as ${server}${NAME_SEPARATOR}…`,
        });
        continue;
      }
      // Case variants collide: clients and models treat names case-insensitively often enough.
      const folded = exposed.toLowerCase();
      const other = byFolded.get(folded);
      if (other !== undefined) {
        collisions.push(
          other.server === server
            ? `${kind}s '${other.exposed}' and '${exposed}' of server ${server} differ only in case (or are listed twice)`
            : `${kind} '${exposed}' is offered by servers ${other.server} and ${server}`,
        );
        continue;
      }
      byFolded.set(folded, { exposed, server, upstreamName: item.name, item });
      byExposed.set(exposed, { exposed, server, upstreamName: item.name, item });
    }
  }
  return byExposed;
}

/** Builds the catalogue from what each server offers, naming tools and prompts per `naming`. */
export function buildCatalog(offers: readonly ServerOffer[], naming: Naming = 'prefixed'): Catalog {
  const rejected: Rejected[] = [];
  const collisions: string[] = [];
  const tools = expose(
    offers.map((o) => ({ server: o.server, items: o.tools })),
    'tool',
    naming,
    rejected,
    collisions,
  );
  const prompts = expose(
    offers.map((o) => ({ server: o.server, items: o.prompts })),
    'prompt',
    naming,
    rejected,
    collisions,
  );
  const resources = new Map<string, CatalogEntry<Resource>>();
  const ambiguous = new Set<string>();
  for (const offer of offers) {
    for (const resource of offer.resources) {
      const owner = resources.get(resource.uri);
      if (owner !== undefined && owner.server !== offer.server) {
        ambiguous.add(resource.uri);
        rejected.push({
          server: offer.server,
          name: resource.uri.slice(0, 200),
          reason: `resource URI also offered by ${owner.server}`,
        });
      } else if (owner === undefined) {
        resources.set(resource.uri, {
          exposed: resource.uri,
          server: offer.server,
          upstreamName: resource.uri,
          item: resource,
        });
      }
    }
  }
  for (const uri of ambiguous) resources.delete(uri);
  const resourceTemplates = offers.flatMap((o) =>
    o.resourceTemplates.map((t) => ({
      exposed: t.uriTemplate,
      server: o.server,
      upstreamName: t.uriTemplate,
      item: t,
    })),
  );
  return { tools, prompts, resources, resourceTemplates, rejected, collisions };
}
