import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { SessionEventStore } from './event-store.js';

const note = (n: number): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 1, progress: n },
});

async function replay(
  store: SessionEventStore,
  after: string,
): Promise<{ stream: string; sent: [string, JSONRPCMessage][] }> {
  const sent: [string, JSONRPCMessage][] = [];
  const stream = await store.replayEventsAfter(after, {
    send: (id, message) => {
      sent.push([id, message]);
      return Promise.resolve();
    },
  });
  return { stream, sent };
}

describe('SessionEventStore (SSE resumption, bounded)', () => {
  it("replays, in order, only the events of the resumed stream that came after the client's last one", async () => {
    const store = new SessionEventStore({ maxEvents: 100, maxBytes: 1 << 20 });
    const priming = await store.storeEvent('s1', {} as JSONRPCMessage);
    const a1 = await store.storeEvent('s1', note(1));
    await store.storeEvent('s2', note(99));
    const a2 = await store.storeEvent('s1', note(2));
    const a3 = await store.storeEvent('s1', note(3));
    expect(await replay(store, a1)).toEqual({
      stream: 's1',
      sent: [
        [a2, note(2)],
        [a3, note(3)],
      ],
    });
    // From the priming event (no JSON-RPC message, never resent): everything of the stream.
    expect((await replay(store, priming)).sent.map(([id]) => id)).toEqual([a1, a2, a3]);
    expect(await store.getStreamIdForEventId(a2)).toBe('s1');
  });

  it('keeps at most maxEvents and maxBytes, dropping the oldest first; a dropped id is unknown', async () => {
    const store = new SessionEventStore({ maxEvents: 3, maxBytes: 1 << 20 });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push(await store.storeEvent('s', note(n)));
    expect(store.size).toBe(3);
    expect(ids.map((id) => store.has(id))).toEqual([false, false, true, true, true]);
    await expect(replay(store, ids[0] ?? '')).rejects.toThrow(/not an event this session still keeps/);
    expect(await store.getStreamIdForEventId(ids[0] ?? '')).toBeUndefined();

    const one = Buffer.byteLength(JSON.stringify(note(0)));
    const byBytes = new SessionEventStore({ maxEvents: 100, maxBytes: 2 * one });
    const kept: string[] = [];
    for (let n = 0; n < 4; n++) kept.push(await byBytes.storeEvent('s', note(n)));
    expect(byBytes.bytes).toBeLessThanOrEqual(2 * one);
    expect(kept.map((id) => byBytes.has(id))).toEqual([false, false, true, true]);
  });

  it('an event larger than the whole budget is not kept, and its stream can no longer be resumed', async () => {
    const store = new SessionEventStore({ maxEvents: 100, maxBytes: 200 });
    const first = await store.storeEvent('big', note(1));
    const other = await store.storeEvent('small', note(2));
    const huge = await store.storeEvent('big', { jsonrpc: '2.0', id: 1, result: { text: 'x'.repeat(500) } });
    expect([store.has(first), store.has(huge), store.has(other)]).toEqual([false, false, true]);
  });

  it("ids are unguessable per session: another store never knows this one's ids", async () => {
    const a = new SessionEventStore({ maxEvents: 10, maxBytes: 1 << 20 });
    const b = new SessionEventStore({ maxEvents: 10, maxBytes: 1 << 20 });
    const idA = await a.storeEvent('s', note(1));
    await b.storeEvent('s', note(1));
    expect(b.has(idA)).toBe(false);
    expect(idA).toMatch(/^[A-Za-z0-9_-]{12}\.1$/);
  });

  it('clear() drops everything', async () => {
    const store = new SessionEventStore({ maxEvents: 10, maxBytes: 1 << 20 });
    const id = await store.storeEvent('s', note(1));
    store.clear();
    expect([store.has(id), store.size, store.bytes]).toEqual([false, 0, 0]);
  });
});
