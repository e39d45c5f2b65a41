/**
 * An {@link AuditWriter} that commits in a worker thread (writer-thread.ts, built to
 * dist/assets/audit-writer.cjs). better-sqlite3 is synchronous: on the thread that answers
 * requests, every COMMIT's fsync and every head anchor (two more fsyncs) stops all other work —
 * in the gateway's profile under load that was a third of its busy time. In a worker the event
 * loop keeps reading, deciding and forwarding while a batch is made durable, and what arrives
 * meanwhile forms the next batch (group commit). A record is still acknowledged only after its
 * COMMIT returned in the worker.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, WardenError, type ErrorCode } from '../core/errors.js';
import type { AuditRecord } from '../core/events.js';
import type { StampedEvent } from './sqlite-store.js';
import type { AuditWriter } from './store-writer.js';

/** What the main thread asks of the worker. */
export type WriterRequest =
  | { readonly op: 'commit'; readonly id: number; readonly events: readonly StampedEvent[] }
  | { readonly op: 'close'; readonly id: number };

/** What the worker answers: the records of a commit, or why it failed. */
export type WriterReply =
  | { readonly id: number; readonly records: AuditRecord[] }
  | { readonly id: number; readonly error: { code: string; message: string; hint?: string } };

/** What the worker is started with. */
export interface WriterThreadData {
  readonly stateDir: string;
  readonly busyTimeoutMs?: number;
}

interface Waiting {
  readonly resolve: (value: AuditRecord[]) => void;
  readonly reject: (err: WardenError) => void;
}

function toWardenError(error: { code: string; message: string; hint?: string }): WardenError {
  const code: ErrorCode = error.code in ERROR_CODES ? (error.code as ErrorCode) : 'AUDIT_UNAVAILABLE';
  return new WardenError(code, error.message, error.hint === undefined ? undefined : { hint: error.hint });
}

/**
 * Starts the writer thread from `script`. The thread opens the store on its first commit (the
 * caller opens and checks it first when it wants an early failure). The thread keeps the process
 * alive only while a commit or close is outstanding.
 */
export class ThreadWriter implements AuditWriter {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #failed: WardenError | null = null;
  #closed = false;

  constructor(script: string, data: WriterThreadData) {
    if (!existsSync(script)) {
      throw new WardenError('INTERNAL', `warden's audit writer ${script} is missing.`, {
        hint: 'Rebuild warden (npm run build).',
      });
    }
    this.#worker = new Worker(script, { workerData: data, stdout: false, stderr: false });
    this.#worker.unref();
    this.#worker.on('message', (reply: WriterReply) => this.#settle(reply));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => {
      if (!this.#closed || this.#waiting.size > 0) this.#fail(new Error(`the audit writer thread exited (${code})`));
    });
  }

  commit(batch: readonly StampedEvent[]): Promise<AuditRecord[]> {
    return this.#ask((id) => ({ op: 'commit', id, events: batch }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#failed === null) await this.#ask((id) => ({ op: 'close', id }));
    } finally {
      this.#closed = true;
      await this.#worker.terminate();
    }
  }

  #ask(request: (id: number) => WriterRequest): Promise<AuditRecord[]> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new WardenError('AUDIT_UNAVAILABLE', 'The audit writer is closed.'));
    const id = this.#nextId++;
    return new Promise<AuditRecord[]>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      if (this.#waiting.size === 1) this.#worker.ref();
      this.#worker.postMessage(request(id));
    });
  }

  #settle(reply: WriterReply): void {
    const waiting = this.#waiting.get(reply.id);
    if (waiting === undefined) return;
    this.#waiting.delete(reply.id);
    if (this.#waiting.size === 0) this.#worker.unref();
    if ('error' in reply) waiting.reject(toWardenError(reply.error));
    else waiting.resolve(reply.records);
  }

  /** The thread died: every outstanding and later commit fails (nothing unrecorded is acknowledged). */
  #fail(cause: Error): void {
    this.#failed ??= new WardenError(
      'AUDIT_UNAVAILABLE',
      'The audit writer thread stopped; nothing more is recorded.',
      {
        hint: 'Restart warden; see `warden doctor`.',
        cause,
      },
    );
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#worker.unref();
    for (const w of waiting) w.reject(this.#failed);
  }
}
