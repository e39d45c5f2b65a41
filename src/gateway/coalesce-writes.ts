/**
 * One write system call for the messages of one turn. The gateway's stdio streams are pipes; Node
 * writes each `write()` to a pipe at once, so under concurrent calls every answer (to the agent)
 * and every request (to a server) cost a system call of its own and woke the reader once per
 * message — a sixth of the gateway's busy time at 64 calls in flight. Corking a stream at its first
 * write of a turn and uncorking it on the next tick sends everything written meanwhile in one
 * `writev`; a lone message goes out in the same turn, as before. Backpressure is unchanged:
 * `write()` still returns false past the high-water mark, and 'drain' follows the flush.
 */
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

/** Corks `stream` until the next tick, unless it is corked already (call before each write). */
export function coalesceWrites(stream: Writable): void {
  if (corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  process.nextTick(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
