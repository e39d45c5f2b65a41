import { WardenError } from '../core/errors.js';
import type { AuditEventInput, AuditRecord, EventSink } from '../core/events.js';
import { SqliteAuditStore, type StampedEvent } from './sqlite-store.js';
import { DEFAULT_MAX_EVENT_BYTES, MAX_EVENT_BYTES_LIMIT, stampEvent } from './stamp.js';
import { StoreWriter, type AuditWriter } from './store-writer.js';
import { HandoverWriter, ThreadWriter } from './thread-writer.js';

export { ANCHOR_INTERVAL_MS } from './store-writer.js';

export interface AuditLogOptions {
  /** Largest record accepted, canonical JSON bytes (default 64 KiB, at most 1 MiB). */
  readonly maxEventBytes?: number;
  /** Most events committed in one transaction (default 1000); the rest go in the next one. */
  readonly maxBatch?: number;
  /** Clock for events without `ts` (tests freeze it). */
  readonly now?: () => Date;
}

interface Pending {
  readonly event: StampedEvent;
  readonly resolve: (record: AuditRecord) => void;
  readonly reject: (err: WardenError) => void;
}

/**
 * The {@link EventSink} every component writes to. `append` validates and queues the event;
 * the queue is committed as one transaction (group commit) by the log's writer — at once when
 * no commit is in flight (after the event loop turns, so appends of one turn share it), else as
 * soon as the one in flight returns, with everything that arrived meanwhile. Each promise
 * resolves with its record only after COMMIT returned, i.e. once the event is durable. When the
 * write fails, every event of that batch rejects with `AUDIT_UNAVAILABLE` (or `AUDIT_CORRUPT`)
 * and callers must refuse the action they were about to take (AUD-03); the log itself stays
 * usable, so a later append succeeds once the cause is gone.
 *
 * The writer (store-writer.ts) commits on this thread, or in a worker thread
 * (thread-writer.ts) so that the fsyncs do not stop the event loop; either advances the signed
 * head off the acknowledgement path. The log owns its writer: `close()` flushes, anchors and
 * then closes it.
 */
export class AuditLog implements EventSink {
  readonly #writer: AuditWriter;
  readonly #maxEventBytes: number;
  readonly #maxBatch: number;
  readonly #now: () => Date;
  #queue: Pending[] = [];
  #scheduled = false;
  #committing = false;
  #closed = false;
  #writerClosed = false;
  #idle: (() => void)[] = [];

  /** `target`: a store (committed on this thread) or a writer. */
  constructor(target: SqliteAuditStore | AuditWriter, options: AuditLogOptions = {}) {
    const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    if (!Number.isInteger(maxEventBytes) || maxEventBytes < 1024 || maxEventBytes > MAX_EVENT_BYTES_LIMIT) {
      throw new TypeError(`maxEventBytes must be an integer in [1024, ${MAX_EVENT_BYTES_LIMIT}]`);
    }
    const maxBatch = options.maxBatch ?? 1000;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 100_000)
      throw new TypeError('maxBatch must be an integer in [1, 100000]');
    this.#writer = target instanceof SqliteAuditStore ? new StoreWriter(target) : target;
    this.#maxEventBytes = maxEventBytes;
    this.#maxBatch = maxBatch;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Records `event` durably and resolves with its stored record (seq, ts, prev_hash, hash).
   * Rejects with `TypeError` for a malformed event, and with `WardenError` (`AUDIT_UNAVAILABLE`
   * or `AUDIT_CORRUPT`) when it could not be recorded; never throws synchronously.
   */
  append(event: AuditEventInput): Promise<AuditRecord> {
    if (this.#closed) {
      return Promise.reject(
        new WardenError('AUDIT_UNAVAILABLE', 'The audit log is closed; the event was not recorded.'),
      );
    }
    let stamped: StampedEvent;
    try {
      stamped = stampEvent(event, this.#now, this.#maxEventBytes);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new TypeError('invalid audit event'));
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#queue.push({ event: stamped, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once every event appended before the call has been committed or rejected. */
  flush(): Promise<void> {
    if (this.#queue.length === 0 && !this.#scheduled && !this.#committing) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Refuses further appends, commits what is queued, then closes the writer. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (this.#writerClosed) return;
    this.#writerClosed = true;
    await this.#writer.close();
  }

  #schedule(): void {
    if (this.#scheduled || this.#committing) return;
    this.#scheduled = true;
    // setImmediate rather than nextTick: appends made from I/O callbacks in the same loop turn
    // (e.g. many proxy connections) still land in one transaction.
    setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
      return;
    }
    // One commit at a time, so the chain is extended in queue order; what arrives meanwhile
    // waits for this one and then goes in one transaction (group commit).
    this.#committing = true;
    this.#writer.commit(batch.map((p) => p.event)).then(
      (records) => {
        batch.forEach((p, i) => {
          const record = records[i];
          if (record === undefined)
            p.reject(new WardenError('INTERNAL', 'The audit store returned fewer records than it was given.'));
          else p.resolve(record);
        });
        this.#committed();
      },
      (err: unknown) => {
        const error =
          err instanceof WardenError
            ? err
            : new WardenError('AUDIT_UNAVAILABLE', 'The event was not recorded: the audit writer failed.', {
                cause: err,
              });
        for (const p of batch) p.reject(error);
        this.#committed();
      },
    );
  }

  #committed(): void {
    this.#committing = false;
    if (this.#queue.length > 0) {
      this.#scheduled = true;
      this.#drain();
      return;
    }
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}

/** Options for {@link openAuditLog}: where the log lives plus the log's own settings. */
export interface OpenAuditLogOptions extends AuditLogOptions {
  readonly stateDir: string;
  readonly busyTimeoutMs?: number;
  /**
   * Open the store on the first commit instead of now. `warden run` uses it so that loading
   * SQLite and opening the log overlap the sandbox launcher's start; an open failure then
   * rejects that first append (AUDIT_UNAVAILABLE / AUDIT_CORRUPT), which refuses the run.
   */
  readonly deferOpen?: boolean;
  /**
   * Commit in a worker thread started from this script (dist/assets/audit-writer.cjs) instead of
   * on the calling thread: for long-lived, busy writers (the gateway), whose event loop should not
   * stop for each fsync. Without `deferOpen` the store is still opened and checked here first, so
   * a log that cannot be used fails now rather than on the first append.
   */
  readonly writerThread?: string;
}

/** Opens the SQLite store under `stateDir` and returns a log that owns it. */
export function openAuditLog(options: OpenAuditLogOptions): AuditLog {
  const storeOptions = {
    stateDir: options.stateDir,
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
  };
  const store = new SqliteAuditStore(storeOptions);
  if (options.deferOpen !== true) store.open();
  const { stateDir: _stateDir, busyTimeoutMs: _busy, deferOpen: _defer, writerThread, ...logOptions } = options;
  if (writerThread === undefined) return new AuditLog(store, logOptions);
  const inline = new StoreWriter(store);
  return new AuditLog(new HandoverWriter(inline, new ThreadWriter(writerThread, storeOptions)), logOptions);
}
