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
import type { AuditWriter, StoreWriter } from './store-writer.js';

/** What the main thread asks of the worker. */
export type WriterRequest =
  | { readonly op: 'commit'; readonly id: number; readonly events: readonly StampedEvent[] }
  | { readonly op: 'close'; readonly id: number };

/** What the worker answers: the records of a commit, or why it failed; first, whether it opened the store. */
export type WriterReply =
  | { readonly id: number; readonly records: AuditRecord[] }
  | { readonly id: number; readonly error: { code: string; message: string; hint?: string } }
  | { readonly ready: boolean };

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
 * Starts the writer thread from `script`. The thread opens its store connection at once and says
 * so ({@link ready}). The thread keeps the process alive only while a commit or close is
 * outstanding.
 */
export class ThreadWriter implements AuditWriter {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #failed: WardenError | null = null;
  #closed = false;
  #isReady = false;
  #announce: (ready: boolean) => void = () => undefined;
  /** Resolves true once the thread has opened the store, false if it could not (it never rejects). */
  readonly ready = new Promise<boolean>((resolve) => (this.#announce = resolve));

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

  /**
   * Stops a thread that has committed nothing, without waiting for it: a thread still starting
   * stops only once its start-up is done (~0.1 s on a loaded machine), and it is unreferenced, so
   * it never keeps the process alive.
   */
  abandon(): void {
    this.#closed = true;
    void this.#worker.terminate();
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

  /** True once the thread has opened the store and is alive. */
  get isReady(): boolean {
    return this.#isReady && this.#failed === null;
  }

  #settle(reply: WriterReply): void {
    if (!('id' in reply)) {
      this.#isReady = reply.ready;
      this.#announce(reply.ready);
      return;
    }
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
    this.#announce(false);
    for (const w of waiting) w.reject(this.#failed);
  }
}

/**
 * Commits inline until the writer thread is ready, then hands over to it for good. A worker
 * takes tens of milliseconds to start (hundreds on a loaded machine), and a gateway's first
 * records should not wait for it. The handover happens between two commits (the log has one in
 * flight at most): the inline writer anchors the head and closes its connection, and the thread
 * chains onto what it wrote. A thread that never gets ready leaves the inline writer in charge;
 * one that dies after the handover fails every later commit (ThreadWriter).
 */
export class HandoverWriter implements AuditWriter {
  readonly #inline: StoreWriter;
  readonly #thread: ThreadWriter;
  #handedOver = false;

  constructor(inline: StoreWriter, thread: ThreadWriter) {
    this.#inline = inline;
    this.#thread = thread;
    // A thread that could not start is not waited for: stop it (the inline writer carries on).
    void thread.ready.then((ok) => (ok ? undefined : thread.abandon()));
  }

  /** Whether the thread has taken over. */
  get handedOver(): boolean {
    return this.#handedOver;
  }

  commit(batch: readonly StampedEvent[]): Promise<AuditRecord[]> {
    return new Promise<AuditRecord[]>((resolve) => {
      if (!this.#handedOver && this.#thread.isReady) {
        // Throws when the head cannot be advanced: that batch is refused as the inline writer
        // would refuse it (the connection is closed either way, so the next commit hands over).
        this.#inline.closeNow();
        this.#handedOver = true;
      }
      resolve(this.#handedOver ? this.#thread.commit(batch) : this.#inline.commit(batch));
    });
  }

  async close(): Promise<void> {
    if (this.#handedOver) return this.#thread.close();
    try {
      await this.#inline.close();
    } finally {
      this.#thread.abandon();
    }
  }
}
