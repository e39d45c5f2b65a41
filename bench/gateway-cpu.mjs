#!/usr/bin/env node
// The gateway's own CPU time per call (user + system, all its threads, from /proc/PID/stat) and
// calls/s, at c=1 and c=64: a figure that a loaded machine disturbs far less than latency. Uses the
// scratch config bench/gateway.mjs leaves in bench/.work/gateway (run that once first), and a
// state dir of its own per label (builds of different ages may not read each other's pins).
//
// usage: node bench/gateway-cpu.mjs WARDEN_BIN LABEL [--blocks '[[600,1],[6000,64]]']
//   e.g. alternately: node bench/gateway-cpu.mjs ../wt-old/bin/warden.cjs old; node bench/gateway-cpu.mjs bin/warden.cjs new
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { WORK } from './lib/common.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { blocks: { type: 'string', default: '[[600,1],[6000,64]]' } },
});
const [bin, label] = positionals;
if (bin === undefined || label === undefined || !/^[\w.-]{1,40}$/.test(label))
  throw new Error('usage: node bench/gateway-cpu.mjs WARDEN_BIN LABEL [--blocks JSON]');
const blocks = JSON.parse(values.blocks);
const dir = join(WORK, 'gateway');
if (!existsSync(join(dir, 'warden.yaml')))
  throw new Error(`run node bench/gateway.mjs once first (no ${dir}/warden.yaml)`);
const stateDir = join(dir, `state-cpu-${label}`);
mkdirSync(stateDir, { recursive: true, mode: 0o700 });
// The same message as bench/gateway.mjs, so the same grant and result size.
const MESSAGE = 'warden gateway bench: the same 64-character message on each call';
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [
    resolve(bin),
    '--config',
    join(dir, 'warden.yaml'),
    '--state-dir',
    stateDir,
    'gateway',
    '--stdio',
    '--workspace',
    join(dir, 'ws'),
  ],
  cwd: join(dir, 'ws'),
  stderr: 'ignore',
});
const client = new Client({ name: 'gateway-cpu', version: '1.0.0' });
await client.connect(transport, { timeout: 60_000 });
const pid = transport.pid;
/** CPU ms of the gateway process so far (utime + stime, clock ticks of 10 ms). */
const cpuMs = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
async function block(calls, concurrency) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) {
        const result = await client.callTool({ name: 'echo__echo', arguments: { message: MESSAGE } });
        if (result.isError || result.content?.[0]?.text !== MESSAGE)
          throw new Error(`unexpected result ${JSON.stringify(result)}`);
      }
    }),
  );
}
// Warm-up: JIT, caches, the audit writer thread.
await block(1000, 64);
await block(300, 1);
const out = [];
for (const [calls, concurrency] of blocks) {
  const cpu0 = cpuMs();
  const t0 = performance.now();
  await block(calls, concurrency);
  const ms = performance.now() - t0;
  out.push(
    `c=${concurrency}: ${(((cpuMs() - cpu0) / calls) * 1000).toFixed(0)} µs CPU/call, ${((calls / ms) * 1000).toFixed(0)} calls/s`,
  );
}
process.stdout.write(
  `${label} (${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}): ${out.join(' | ')}\n`,
);
await client.close();
