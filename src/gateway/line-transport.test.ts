import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LineTransport, OVERSIZED_RESULT_CODE } from './line-transport.js';
import type { LineProblem } from './line-transport.js';

type Child = ChildProcessByStdio<Writable, Readable, null>;

const children: Child[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

function spawnNode(args: readonly string[]): Child {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'] });
  children.push(child);
  return child;
}

/** Records everything a transport reports. */
function observe(transport: LineTransport, problems: LineProblem[] = []) {
  const seen = { messages: [] as JSONRPCMessage[], problems, closes: 0, errors: [] as Error[] };
  transport.onmessage = (message) => {
    seen.messages.push(message);
  };
  transport.onclose = () => {
    seen.closes++;
  };
  transport.onerror = (error) => {
    seen.errors.push(error);
  };
  return seen;
}

/** A transport over PassThrough streams: `input` plays the child's stdout, `output` its stdin. */
async function overStreams(maxLineBytes = 1024) {
  const input = new PassThrough();
  const output = new PassThrough();
  const problems: LineProblem[] = [];
  const transport = new LineTransport({ input, output, maxLineBytes, onProtocolError: (p) => problems.push(p) });
  const seen = observe(transport, problems);
  await transport.start();
  // Extends the same object: spreading it would freeze `closes` at its current value.
  return Object.assign(seen, { input, output, transport });
}

/** Lets queued stream events run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const filler = (bytes: number) => 'x'.repeat(bytes);

/**
 * A minimal MCP server with misbehaving tools, run as a real child with `node -e`.
 *   big      — answers with a result line of `bytes` bytes, `idFirst` choosing the member order
 *   noise    — writes non-JSON and non-JSON-RPC lines, then answers normally
 *   crash    — writes half a response line, then dies
 *   echo     — answers normally
 */
const FAKE_SERVER = String.raw`
const rl = require('node:readline').createInterface({ input: process.stdin });
const send = (text) => process.stdout.write(text + '\n');
const text = (t) => ({ content: [{ type: 'text', text: t }] });
rl.on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.id === undefined) return;
  const reply = (result) => send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
  if (msg.method === 'initialize') {
    return reply({ protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'fake', version: '0' } });
  }
  if (msg.method !== 'tools/call') return send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'no' } }));
  const args = msg.params.arguments || {};
  switch (msg.params.name) {
    case 'big': {
      const result = JSON.stringify(text('x'.repeat(args.bytes)));
      const id = JSON.stringify(msg.id);
      return send(args.idFirst ? '{"jsonrpc":"2.0","id":' + id + ',"result":' + result + '}' : '{"result":' + result + ',"jsonrpc":"2.0","id":' + id + '}');
    }
    case 'noise':
      send('Debugger listening on ws://127.0.0.1:9229/\u001b[31mred');
      send('{"hello":"world"}');
      send('');
      return reply(text('after noise'));
    case 'crash':
      process.stdout.write('{"jsonrpc":"2.0","id":' + msg.id + ',"result":{"content":[');
      return setTimeout(() => process.exit(3), 20);
    default:
      return reply(text('echo: ' + String(args.message)));
  }
});
`;

async function connectFake(maxLineBytes: number) {
  const child = spawnNode(['-e', FAKE_SERVER]);
  const problems: LineProblem[] = [];
  const transport = new LineTransport({
    input: child.stdout,
    output: child.stdin,
    maxLineBytes,
    onProtocolError: (p) => problems.push(p),
  });
  let closes = 0;
  transport.onclose = () => {
    closes++;
  };
  const client = new Client({ name: 'line-transport-test', version: '0.0.0' });
  await client.connect(transport);
  return { child, client, transport, problems, closes: () => closes };
}

/** The error a promise rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('LineTransport with real MCP servers', () => {
  it('round-trips tools/list and the echo tool with server-everything over stdio', async () => {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
    const child = spawnNode([entry, 'stdio']);
    const problems: LineProblem[] = [];
    const transport = new LineTransport({
      input: child.stdout,
      output: child.stdin,
      maxLineBytes: 8 * 1024 * 1024,
      onProtocolError: (p) => problems.push(p),
    });
    const client = new Client({ name: 'line-transport-test', version: '0.0.0' });
    await client.connect(transport);

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hello warden' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: hello warden' }]);
    expect(problems).toEqual([]);

    await client.close();
    expect(transport.closed).toBe(true);
  }, 20_000);

  it.each([
    ['id last (SDK order)', false],
    ['id first', true],
  ])(
    'GW-06: an oversized result with the %s fails its request at once and the server keeps serving',
    async (_label, idFirst) => {
      const limit = 64 * 1024;
      const { client, problems } = await connectFake(limit);

      const started = Date.now();
      const error = await rejection(
        client.callTool({ name: 'big', arguments: { bytes: 4 * limit, idFirst } }, undefined, { timeout: 10_000 }),
      );
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(OVERSIZED_RESULT_CODE);
      expect((error as McpError).message).toContain(`upstream result larger than ${limit} bytes`);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(problems).toEqual([expect.objectContaining({ kind: 'oversized' })]);

      const next = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
      expect(next.content).toEqual([{ type: 'text', text: 'echo: still here' }]);
      // A result just under the limit still gets through.
      const fits = await client.callTool({ name: 'big', arguments: { bytes: limit - 200, idFirst } });
      expect(fits.content).toEqual([{ type: 'text', text: filler(limit - 200) }]);
      await client.close();
    },
    20_000,
  );

  it('GW-06: non-JSON and non-JSON-RPC output is reported and skipped; the call still succeeds', async () => {
    const { client, problems } = await connectFake(1024 * 1024);
    const result = await client.callTool({ name: 'noise', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'after noise' }]);
    expect(problems.map((p) => p.kind)).toEqual(['not_json', 'not_jsonrpc']);
    // The escape sequence reaches the report escaped, never raw.
    expect(problems[0]?.detail).toContain('\\u001b[31m');
    expect(problems[0]?.detail).not.toContain('\u001b');
    await client.close();
  }, 20_000);

  it('GW-06: a child crashing mid-request closes the transport and rejects the pending request', async () => {
    const { client, problems, closes } = await connectFake(1024 * 1024);
    const error = await rejection(client.callTool({ name: 'crash', arguments: {} }, undefined, { timeout: 10_000 }));
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.ConnectionClosed);
    expect(closes()).toBe(1);
    // The half-written response is reported, not delivered.
    expect(problems).toEqual([expect.objectContaining({ kind: 'not_json' })]);
  }, 20_000);

  it('GW-06: 50 MiB without a newline stays bounded, then reading recovers at the next newline', async () => {
    const limit = 1024 * 1024;
    const child = spawnNode([
      '-e',
      String.raw`
        const chunk = 'y'.repeat(1024 * 1024);
        let left = 50;
        const next = () => {
          while (left > 0) { left--; if (!process.stdout.write(chunk)) return process.stdout.once('drain', next); }
          process.stdout.write('\n{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"recovered"}}\n');
        };
        next();
        setTimeout(() => {}, 10000);
      `,
    ]);
    const problems: LineProblem[] = [];
    const transport = new LineTransport({
      input: child.stdout,
      output: child.stdin,
      maxLineBytes: limit,
      onProtocolError: (p) => problems.push(p),
    });
    const seen = observe(transport, problems);
    await transport.start();
    // Registered after the transport's own listener, so it sees the state each chunk left behind.
    let peak = 0;
    let received = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
      peak = Math.max(peak, transport.bufferedBytes);
    });

    await until(() => seen.messages.length === 1, 30_000);
    expect(received).toBeGreaterThan(50 * 1024 * 1024);
    expect(peak).toBeLessThanOrEqual(limit + 1024);
    expect(transport.bufferedBytes).toBe(0);
    expect(problems).toEqual([
      { kind: 'oversized', detail: expect.stringContaining(`a ${50 * 1024 * 1024}-byte line`) as string },
    ]);
    expect(seen.messages[0]).toMatchObject({ method: 'notifications/message', params: { data: 'recovered' } });
    await transport.close();
  }, 40_000);

  it('GW-06: writing after the child closed its stdin rejects or closes, never throws uncaught', async () => {
    // The child closes its end of the pipe but stays alive, so our writes meet EPIPE.
    const child = spawnNode([
      '-e',
      `require('node:fs').closeSync(0); process.stdout.write('{"jsonrpc":"2.0","method":"ready"}\\n'); setTimeout(() => {}, 10000);`,
    ]);
    const transport = new LineTransport({ input: child.stdout, output: child.stdin, maxLineBytes: 1024 });
    const seen = observe(transport);
    await transport.start();
    await until(() => seen.messages.length === 1);

    const ping: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'ping' };
    // The first write may be accepted before the kernel reports EPIPE; keep writing until refused.
    let refused: unknown;
    for (let i = 0; i < 50 && refused === undefined; i++) {
      refused = await transport.send(ping).then(
        () => undefined,
        (error: unknown) => error,
      );
      await flush();
    }
    expect(refused).toBeInstanceOf(Error);
    expect(seen.closes).toBe(1);
    expect(seen.errors.map((e) => e.message).join()).toContain('EPIPE');
  }, 20_000);

  it('GW-06: sending to a child that was killed rejects instead of throwing uncaught', async () => {
    const child = spawnNode(['-e', 'setTimeout(() => {}, 10000)']);
    const transport = new LineTransport({ input: child.stdout, output: child.stdin, maxLineBytes: 1024 });
    const seen = observe(transport);
    await transport.start();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const ping: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const outcomes = await Promise.allSettled([transport.send(ping), transport.send(ping)]);
    await until(() => seen.closes === 1);
    await expect(transport.send(ping)).rejects.toThrow(/closed/);
    // Whichever send raced the close, none escaped as an uncaught error (vitest would fail the run).
    expect(outcomes).toHaveLength(2);
    expect(seen.closes).toBe(1);
  }, 20_000);
});

describe('LineTransport framing', () => {
  it('delivers valid messages split across chunks and joined in one chunk', async () => {
    const t = await overStreams();
    const a = '{"jsonrpc":"2.0","id":1,"result":{}}';
    const b = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
    t.input.write(a.slice(0, 10));
    t.input.write(a.slice(10) + '\n' + b + '\n' + b.slice(0, 5));
    t.input.write(b.slice(5) + '\n');
    await flush();
    expect(t.messages).toEqual([JSON.parse(a), JSON.parse(b), JSON.parse(b)]);
    expect(t.problems).toEqual([]);
  });

  it('reassembles a line dribbled one byte per chunk, holding one buffer no larger than the limit', async () => {
    const line = `{"jsonrpc":"2.0","method":"m","params":{"p":"${filler(9000)}"}}`;
    const t = await overStreams(16 * 1024);
    let peak = 0;
    for (const byte of Buffer.from(line)) {
      t.input.write(Buffer.of(byte));
      peak = Math.max(peak, t.transport.bufferedBytes);
    }
    await flush();
    expect(peak).toBeGreaterThanOrEqual(line.length);
    expect(peak).toBeLessThanOrEqual(16 * 1024);
    t.input.write('\n');
    await flush();
    expect(t.messages).toEqual([JSON.parse(line)]);
    expect(t.transport.bufferedBytes).toBe(0);
  });

  it('accepts CRLF line endings and string chunks', async () => {
    const t = await overStreams();
    t.input.setEncoding('utf8');
    t.input.write('{"jsonrpc":"2.0","method":"a"}\r\n\r\n{"jsonrpc":"2.0","id":"x","result":{}}\r\n');
    await flush();
    expect(t.messages).toEqual([
      { jsonrpc: '2.0', method: 'a' },
      { jsonrpc: '2.0', id: 'x', result: {} },
    ]);
    expect(t.problems).toEqual([]);
  });

  it('GW-06: reports non-JSON and non-JSON-RPC lines, ignores empty ones, and keeps going', async () => {
    const t = await overStreams();
    t.input.write(
      '\n   \nnot json at all\n{"jsonrpc":"1.0","id":1,"result":{}}\n[1,2]\n"str"\n{"jsonrpc":"2.0","method":"ok"}\n',
    );
    await flush();
    expect(t.problems).toEqual([
      { kind: 'not_json', detail: 'not json at all' },
      { kind: 'not_jsonrpc', detail: '{"jsonrpc":"1.0","id":1,"result":{}}' },
      { kind: 'not_jsonrpc', detail: '[1,2]' },
      { kind: 'not_jsonrpc', detail: '"str"' },
    ]);
    expect(t.messages).toEqual([{ jsonrpc: '2.0', method: 'ok' }]);
  });

  it('cuts the problem detail at 64 characters and escapes control and separator characters', async () => {
    const t = await overStreams();
    t.input.write(`\u0007bell\u2028${filler(100)}\n`);
    await flush();
    const detail = t.problems[0]?.detail ?? '';
    expect(detail.startsWith('\\u0007bell\\u2028xxx')).toBe(true);
    expect(detail.endsWith('…')).toBe(true);
    // 64 characters shown, two of them expanded to six-character escapes, plus the ellipsis.
    expect(detail).toHaveLength(64 + 5 + 5 + 1);
  });

  it('accepts a line of exactly maxLineBytes and discards one byte more', async () => {
    const t = await overStreams(100);
    const head = '{"jsonrpc":"2.0","method":"m","params":{"p":"';
    const exact = head + filler(100 - head.length - 3) + '"}}';
    expect(Buffer.byteLength(exact)).toBe(100);
    const over = head + filler(100 - head.length - 2) + '"}}';
    t.input.write(`${exact}\n${over}\n`);
    await flush();
    expect(t.messages).toHaveLength(1);
    expect(t.problems).toEqual([
      { kind: 'oversized', detail: 'a 101-byte line exceeds the 100-byte limit; no response id found, line discarded' },
    ]);
  });

  it('GW-06: a flood without newlines never buffers more than the limit plus two 512-byte edges', async () => {
    const limit = 256 * 1024;
    const t = await overStreams(limit);
    const chunk = Buffer.alloc(64 * 1024, 0x7a);
    let peak = 0;
    for (let i = 0; i < 50 * 16; i++) {
      t.input.write(chunk);
      peak = Math.max(peak, t.transport.bufferedBytes);
    }
    await flush();
    expect(peak).toBeLessThanOrEqual(limit);
    expect(t.transport.bufferedBytes).toBe(1024);
    t.input.write('\n{"jsonrpc":"2.0","method":"after"}\n');
    await flush();
    expect(t.transport.bufferedBytes).toBe(0);
    expect(t.messages).toEqual([{ jsonrpc: '2.0', method: 'after' }]);
    expect(t.problems.map((p) => p.kind)).toEqual(['oversized']);
  });
});

describe('LineTransport oversized responses (GW-06)', () => {
  const limit = 4096;
  const big = filler(3 * limit);

  it.each([
    ['numeric id first', `{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"${big}"}]}}`, 5],
    ['numeric id last', `{"result":{"content":[{"type":"text","text":"${big}"}]},"jsonrpc":"2.0","id":5}`, 5],
    [
      'string id last with escapes and spaces',
      `{ "result" : { "t" : "${big}" } , "jsonrpc" : "2.0" , "id" : "a\\"b}" }`,
      'a"b}',
    ],
    ['string id first', `{"id":"req-9","jsonrpc":"2.0","result":{"t":"${big}"}}`, 'req-9'],
    ['error response', `{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"m","data":"${big}"}}`, 7],
    [
      'nested id in the result ignored, top-level id last',
      `{"jsonrpc":"2.0","result":{"id":99,"t":"${big}","list":[{"id":98}]},"id":3}`,
      3,
    ],
  ])('synthesises an error response for %s', async (_label, line, id) => {
    const t = await overStreams(limit);
    // Delivered in pieces, as a pipe would.
    for (let i = 0; i < line.length; i += 1000) t.input.write(line.slice(i, i + 1000));
    t.input.write('\n');
    await flush();
    expect(t.messages).toEqual([
      {
        jsonrpc: '2.0',
        id,
        error: { code: OVERSIZED_RESULT_CODE, message: `upstream result larger than ${limit} bytes` },
      },
    ]);
    expect(t.problems).toEqual([
      { kind: 'oversized', detail: expect.stringContaining(`failing response id ${JSON.stringify(id)}`) as string },
    ]);
  });

  it.each([
    [
      'a request (server-to-client) with an id',
      `{"jsonrpc":"2.0","id":4,"method":"sampling/createMessage","params":{"t":"${big}"}}`,
    ],
    ['a request with method and id last', `{"params":{"t":"${big}"},"jsonrpc":"2.0","method":"x","id":4}`],
    ['a notification', `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${big}"}}`],
    ['a response whose id is only nested', `{"jsonrpc":"2.0","result":{"id":99,"t":"${big}"}}`],
    ['a non-integer id', `{"jsonrpc":"2.0","id":1.5,"result":{"t":"${big}"}}`],
    ['plain text', big],
  ])('only reports %s', async (_label, line) => {
    const t = await overStreams(limit);
    t.input.write(`${line}\n`);
    await flush();
    expect(t.messages).toEqual([]);
    expect(t.problems).toEqual([
      { kind: 'oversized', detail: expect.stringContaining('no response id found') as string },
    ]);
  });

  it('judges an oversized last line cut off by the end of input', async () => {
    const t = await overStreams(limit);
    t.input.end(`{"jsonrpc":"2.0","id":8,"result":{"t":"${big}`);
    await until(() => t.closes === 1);
    expect(t.messages).toEqual([
      expect.objectContaining({ id: 8, error: expect.objectContaining({ code: OVERSIZED_RESULT_CODE }) as unknown }),
    ]);
  });
});

describe('LineTransport lifecycle', () => {
  it('close() ends the output, calls onclose once, and silences later input', async () => {
    const t = await overStreams();
    await t.transport.close();
    await t.transport.close();
    expect(t.closes).toBe(1);
    expect(t.output.writableEnded).toBe(true);
    t.input.write('{"jsonrpc":"2.0","method":"late"}\nnot json\n');
    t.input.end();
    await flush();
    expect(t.messages).toEqual([]);
    expect(t.problems).toEqual([]);
    expect(t.closes).toBe(1);
    await expect(t.transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow(/closed/);
  });

  it('stops at once when a callback closes the transport mid-chunk', async () => {
    const t = await overStreams();
    t.transport.onmessage = (message) => {
      t.messages.push(message);
      void t.transport.close();
    };
    t.input.write('{"jsonrpc":"2.0","method":"a"}\n{"jsonrpc":"2.0","method":"b"}\n');
    await flush();
    expect(t.messages).toEqual([{ jsonrpc: '2.0', method: 'a' }]);
  });

  it('end of input calls onclose once without onerror', async () => {
    const t = await overStreams();
    t.input.end();
    await until(() => t.closes === 1);
    await flush();
    expect(t.closes).toBe(1);
    expect(t.errors).toEqual([]);
  });

  it('an input error calls onerror then onclose, once', async () => {
    const t = await overStreams();
    const order: string[] = [];
    t.transport.onerror = (e) => order.push(`error:${e.message}`);
    t.transport.onclose = () => order.push('close');
    t.input.destroy(new Error('boom'));
    await until(() => order.length >= 2);
    await flush();
    expect(order).toEqual(['error:upstream stdout failed: boom', 'close']);
  });

  it('an output error closes the transport and rejects later sends', async () => {
    const t = await overStreams();
    t.output.destroy(new Error('EPIPE-like'));
    await until(() => t.closes === 1);
    expect(t.errors.map((e) => e.message)).toEqual(['upstream stdin failed: EPIPE-like']);
    await expect(t.transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow(/closed/);
  });

  it('send() writes one line per message and waits for drain under backpressure', async () => {
    const input = new PassThrough();
    const output = new PassThrough({ highWaterMark: 16 });
    const transport = new LineTransport({ input, output, maxLineBytes: 1024 });
    await transport.start();
    let sent = false;
    const sending = transport.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' }).then(() => {
      sent = true;
    });
    await flush();
    expect(sent).toBe(false);
    const written = String(output.read());
    await sending;
    expect(sent).toBe(true);
    expect(written).toBe('{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n');
  });

  it('a pending send rejects when the transport closes before drain', async () => {
    const input = new PassThrough();
    const output = new PassThrough({ highWaterMark: 16 });
    const transport = new LineTransport({ input, output, maxLineBytes: 1024 });
    await transport.start();
    const sending = transport.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await flush();
    await transport.close();
    await expect(sending).rejects.toThrow(/closed/);
  });

  it('a throwing onmessage is reported through onerror and does not stop reading', async () => {
    const t = await overStreams();
    t.transport.onmessage = (message) => {
      t.messages.push(message);
      throw new Error('handler bug');
    };
    t.input.write('{"jsonrpc":"2.0","method":"a"}\n{"jsonrpc":"2.0","method":"b"}\n');
    await flush();
    expect(t.messages).toHaveLength(2);
    expect(t.errors.map((e) => e.message)).toEqual(['handler bug', 'handler bug']);
  });

  it('refuses a second start, a start after close, and a bad limit', async () => {
    const t = await overStreams();
    await expect(t.transport.start()).rejects.toThrow(/already started/);
    const other = new LineTransport({ input: new PassThrough(), output: new PassThrough(), maxLineBytes: 10 });
    await other.close();
    await expect(other.start()).rejects.toThrow(/closed/);
    expect(() => new LineTransport({ input: new PassThrough(), output: new PassThrough(), maxLineBytes: 0 })).toThrow(
      RangeError,
    );
    expect(other.sessionId).toBeUndefined();
    expect(() => {
      other.setProtocolVersion('2025-06-18');
    }).not.toThrow();
  });
});
