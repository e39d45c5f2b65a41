/**
 * The audit writer thread's entry (built to dist/assets/audit-writer.cjs; started by
 * thread-writer.ts). It owns one store connection and commits the batches it is sent, one at a
 * time and in order, with the same engine as the inline writer (store-writer.ts): FULL
 * durability, the head anchored at most every ANCHOR_INTERVAL_MS.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isWardenError } from '../core/errors.js';
import { SqliteAuditStore } from './sqlite-store.js';
import { StoreWriter } from './store-writer.js';
import type { WriterReply, WriterRequest, WriterThreadData } from './thread-writer.js';

function errorReply(id: number, err: unknown): WriterReply {
  if (isWardenError(err))
    return {
      id,
      error: { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) },
    };
  return {
    id,
    error: { code: 'AUDIT_UNAVAILABLE', message: 'The event was not recorded: the audit writer failed unexpectedly.' },
  };
}

const port = parentPort;
if (port !== null) {
  const data = workerData as WriterThreadData;
  const store = new SqliteAuditStore({
    stateDir: data.stateDir,
    ...(data.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: data.busyTimeoutMs }),
  });
  const writer = new StoreWriter(store);
  // Open now, so the log can hand over to this thread as soon as it is ready (HandoverWriter).
  let opened = true;
  try {
    store.open({ anchor: false });
  } catch {
    opened = false;
  }
  port.postMessage({ ready: opened } satisfies WriterReply);
  port.on('message', (request: WriterRequest) => {
    let reply: WriterReply;
    try {
      reply =
        request.op === 'commit'
          ? { id: request.id, records: writer.commitNow(request.events) }
          : (writer.closeNow(), { id: request.id, records: [] });
    } catch (err) {
      reply = errorReply(request.id, err);
    }
    port.postMessage(reply);
    if (request.op === 'close') port.close();
  });
}
