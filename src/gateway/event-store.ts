/**
 * SSE resumability for the Streamable HTTP endpoint (MCP 2025-11-25, "Resumability and
 * Redelivery"): the events one session's streams carried, kept so a client whose stream dropped
 * can reconnect with `Last-Event-ID` and get what it missed on that stream, exactly once.
 *
 * One store per session, dropped with it: a session never sees another's events. Event ids carry
 * a random per-store prefix, so an id from another session (or made up) is simply unknown here and
 * the endpoint refuses it, instead of matching an event of this session by its number.
 *
 * Bounded by count and bytes (ENDPOINT_LIMITS.replayEvents / replayBytes), the oldest dropped
 * first. Since eviction goes by age, an event still kept has every later event of its stream kept
 * too, so a replay is never partial; an event larger than the whole byte budget is not kept, and
 * the earlier events of its stream are dropped with it, so resuming that stream is refused rather
 * than silently skipping it.
 */
import { randomBytes } from 'node:crypto';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** How many events and bytes one session keeps for replay. */
export interface ReplayLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
}

interface StoredEvent {
  readonly streamId: string;
  readonly message: JSONRPCMessage;
  readonly bytes: number;
}

/** The bounded, per-session event store the SDK's transport writes to and replays from. */
export class SessionEventStore implements EventStore {
  readonly #limits: ReplayLimits;
  /** Unguessable, so an event id is only ever known to the session that received it. */
  readonly #prefix = randomBytes(9).toString('base64url');
  /** Insertion order is age order: the first entry is the oldest. */
  readonly #events = new Map<string, StoredEvent>();
  #bytes = 0;
  #seq = 0;

  /** @param limits how many events and bytes to keep */
  constructor(limits: ReplayLimits) {
    this.#limits = limits;
  }

  /** Events kept now. */
  get size(): number {
    return this.#events.size;
  }

  /** Bytes of the events kept now (their JSON text). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether `eventId` is an event of this session that is still kept. */
  has(eventId: string): boolean {
    return this.#events.has(eventId);
  }

  /** Keeps an event; called by the SDK for every SSE event it sends (and the priming event). */
  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = `${this.#prefix}.${++this.#seq}`;
    const bytes = Buffer.byteLength(JSON.stringify(message));
    if (bytes > this.#limits.maxBytes) {
      // Too large to keep at all: this stream can no longer be resumed whole, so none of it is.
      for (const [id, event] of this.#events) if (event.streamId === streamId) this.#drop(id, event);
      return Promise.resolve(eventId);
    }
    this.#events.set(eventId, { streamId, message, bytes });
    this.#bytes += bytes;
    for (const [id, event] of this.#events) {
      if (this.#events.size <= this.#limits.maxEvents && this.#bytes <= this.#limits.maxBytes) break;
      this.#drop(id, event);
    }
    return Promise.resolve(eventId);
  }

  /** The stream `eventId` belongs to, or undefined when it is not kept (the SDK then refuses). */
  getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return Promise.resolve(this.#events.get(eventId)?.streamId);
  }

  /**
   * Sends every kept event of `lastEventId`'s stream that came after it, in order.
   * @throws Error when `lastEventId` is not kept (the endpoint refuses such ids before this)
   */
  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const last = this.#events.get(lastEventId);
    if (last === undefined) throw new Error('Last-Event-ID is not an event this session still keeps');
    let after = false;
    // A snapshot: events stored while the replay awaits belong to the live stream, not the replay.
    for (const [id, event] of [...this.#events]) {
      if (id === lastEventId) after = true;
      // The priming event ({}, no JSON-RPC message) only carries an id; nothing to resend.
      else if (after && event.streamId === last.streamId && 'jsonrpc' in event.message) await send(id, event.message);
    }
    return last.streamId;
  }

  /** Drops everything (the session ended). */
  clear(): void {
    this.#events.clear();
    this.#bytes = 0;
  }

  #drop(id: string, event: StoredEvent): void {
    this.#events.delete(id);
    this.#bytes -= event.bytes;
  }
}
