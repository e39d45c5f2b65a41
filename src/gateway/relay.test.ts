import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { EventPayloads } from '../core/events.js';
import { ServerRequestRelay, type AgentPeer } from './relay.js';

type Record_ = EventPayloads['mcp.call'];

function setup(
  relay: Record<string, ('sampling' | 'elicitation' | 'roots')[]> = { files: ['sampling', 'roots'] },
  failRecord = false,
) {
  const records: Record_[] = [];
  const relayer = new ServerRequestRelay({
    profileName: 'p',
    relay,
    timeoutMs: 1000,
    record: (data) => {
      if (failRecord) return Promise.reject(new Error('audit down'));
      records.push(data);
      return Promise.resolve();
    },
  });
  return { relayer, records };
}

function peer(
  answer: (method: string) => Promise<Record<string, unknown>>,
  calls: { method: string; related?: string | number }[],
): AgentPeer {
  return {
    request: (method, _params, options) => {
      calls.push({ method, ...(options.relatedRequestId === undefined ? {} : { related: options.relatedRequestId }) });
      return answer(method);
    },
    notify: (method, _params, related) => {
      calls.push({ method, ...(related === undefined ? {} : { related }) });
      return Promise.resolve();
    },
  };
}

const SAMPLE = { method: 'sampling/createMessage', params: { messages: [], maxTokens: 5 } };
const signal = new AbortController().signal;

describe('ServerRequestRelay', () => {
  it("routes to the session with a call in flight to that server, on that call's stream, and records it", async () => {
    const { relayer, records } = setup();
    const callsA: { method: string; related?: string | number }[] = [];
    const callsB: { method: string; related?: string | number }[] = [];
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.resolve({ role: 'assistant' }), callsA),
    );
    relayer.attach(
      'b',
      'agent',
      peer(() => Promise.resolve({ role: 'assistant' }), callsB),
    );
    let answer: unknown;
    await relayer.track('files', 'b', 42, async () => {
      answer = await relayer.relay('files', 'sampling', SAMPLE, signal);
    });
    expect(answer).toEqual({ role: 'assistant' });
    expect(callsA).toEqual([]);
    expect(callsB).toEqual([{ method: 'sampling/createMessage', related: 42 }]);
    expect(records).toMatchObject([
      {
        subject: 'sampling',
        session: 'b',
        decision: 'allow',
        outcome: 'ok',
        policy_ids: ['p.relay.files.sampling'],
        arguments: { bytes: expect.any(Number), sha256: expect.any(String) },
      },
    ]);
  });

  it('refuses when several sessions are calling the server at once (never the wrong agent)', async () => {
    const { relayer, records } = setup();
    const calls: { method: string }[] = [];
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.resolve({}), calls),
    );
    relayer.attach(
      'b',
      'agent',
      peer(() => Promise.resolve({}), calls),
    );
    await relayer.track('files', 'a', 1, () =>
      relayer.track('files', 'b', 2, async () => {
        await expect(relayer.relay('files', 'sampling', SAMPLE, signal)).rejects.toThrow(
          /2 agent sessions are using server files/,
        );
      }),
    );
    expect(calls).toEqual([]);
    expect(records).toMatchObject([{ decision: 'deny', outcome: 'denied', session: '-' }]);
  });

  it('with nothing in flight, goes to the only session; with none, refuses', async () => {
    const { relayer, records } = setup();
    await expect(relayer.relay('files', 'roots', { method: 'roots/list', params: {} }, signal)).rejects.toThrow(
      /no agent session is connected/,
    );
    const calls: { method: string }[] = [];
    const detach = relayer.attach(
      'only',
      'agent',
      peer(() => Promise.resolve({ roots: [] }), calls),
    );
    await expect(relayer.relay('files', 'roots', { method: 'roots/list', params: {} }, signal)).resolves.toEqual({
      roots: [],
    });
    detach();
    await expect(relayer.relay('files', 'roots', { method: 'roots/list', params: {} }, signal)).rejects.toThrow(
      /no agent session/,
    );
    expect(records.map((r) => r.outcome)).toEqual(['denied', 'ok', 'denied']);
  });

  it('refuses a feature the profile does not relay for that server', async () => {
    const { relayer, records } = setup({ files: ['roots'] });
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.resolve({}), []),
    );
    await expect(relayer.relay('files', 'sampling', SAMPLE, signal)).rejects.toThrow(
      /does not relay sampling from server files/,
    );
    await expect(relayer.relay('other', 'roots', { method: 'roots/list', params: {} }, signal)).rejects.toThrow(
      /does not relay roots from server other/,
    );
    expect(records.every((r) => r.decision === 'deny')).toBe(true);
    expect([...relayer.featuresFor('files')]).toEqual(['roots']);
    expect([...relayer.featuresFor('constructor')]).toEqual([]);
  });

  it("passes the agent's error code on, names the method, and records agent_error", async () => {
    const { relayer, records } = setup();
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.reject(new McpError(-32601, 'Method not found')), []),
    );
    const error = await relayer.relay('files', 'sampling', SAMPLE, signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32601);
    expect((error as Error).message).toContain('the agent did not answer sampling/createMessage: Method not found');
    expect(records).toMatchObject([{ decision: 'allow', outcome: 'agent_error' }]);
  });

  it("a server's log message goes to the session calling it, on that call's stream; never when that is ambiguous", async () => {
    const { relayer } = setup();
    const callsA: { method: string; related?: string | number }[] = [];
    const callsB: { method: string; related?: string | number }[] = [];
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.resolve({}), callsA),
    );
    relayer.attach(
      'b',
      'agent',
      peer(() => Promise.resolve({}), callsB),
    );
    // Two sessions, nothing in flight: nobody gets it.
    expect(relayer.notifyLog('files', { level: 'info', data: 'x' })).toBe(false);
    await relayer.track('files', 'a', 7, async () => {
      expect(relayer.notifyLog('files', { level: 'info', data: 'x' })).toBe(true);
      await relayer.track('files', 'b', 8, () => {
        expect(relayer.notifyLog('files', { level: 'info', data: 'y' })).toBe(false);
        return Promise.resolve();
      });
    });
    expect(callsA).toEqual([{ method: 'notifications/message', related: 7 }]);
    expect(callsB).toEqual([]);
    relayer.notifySubscribers(['b'], { uri: 'mem://x' });
    expect(callsB).toEqual([{ method: 'notifications/resources/updated' }]);
  });

  it('with sessions of two different agents connected, nothing is relayed: requests refused, logs dropped', async () => {
    const { relayer, records } = setup();
    const callsA: { method: string }[] = [];
    const callsB: { method: string }[] = [];
    relayer.attach(
      'a',
      'agent-a',
      peer(() => Promise.resolve({}), callsA),
    );
    const detachB = relayer.attach(
      'b',
      'agent-b',
      peer(() => Promise.resolve({}), callsB),
    );
    await relayer.track('files', 'a', 1, async () => {
      // Only a's call is in flight, but b (another agent) could be who the server means.
      await expect(relayer.relay('files', 'sampling', SAMPLE, signal)).rejects.toThrow(/2 different agents/);
      expect(relayer.notifyLog('files', { level: 'info', data: 'x' })).toBe(false);
    });
    detachB();
    await relayer.track('files', 'a', 2, async () => {
      await expect(relayer.relay('files', 'sampling', SAMPLE, signal)).resolves.toEqual({});
    });
    expect(callsB).toEqual([]);
    expect(records.map((r) => r.outcome)).toEqual(['denied', 'ok']);
  });

  it('AUD-03 nothing is relayed once the audit log has failed', async () => {
    const records: unknown[] = [];
    const calls: { method: string }[] = [];
    const relayer = new ServerRequestRelay({
      profileName: 'p',
      relay: { files: ['sampling'] },
      timeoutMs: 1000,
      record: (d) => (records.push(d), Promise.resolve()),
      refuseIfAuditBroken: () => {
        throw new Error('audit broken');
      },
    });
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.resolve({}), calls),
    );
    await expect(relayer.relay('files', 'sampling', SAMPLE, signal)).rejects.toThrow(/audit broken/);
    expect(calls).toEqual([]);
  });

  it('AUD-03 an answer that cannot be recorded is not passed on', async () => {
    const { relayer } = setup({ files: ['sampling'] }, true);
    relayer.attach(
      'a',
      'agent',
      peer(() => Promise.resolve({ role: 'assistant' }), []),
    );
    await expect(relayer.relay('files', 'sampling', SAMPLE, signal)).rejects.toThrow();
  });
});
