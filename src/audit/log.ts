import { WardenError, isWardenError } from '../core/errors.js';
import type { AuditEventInput, AuditRecord, EventSink } from '../core/events.js';
import { SqliteAuditStore, type StampedEvent } from './sqlite-store.js';
import { DEFAULT_MAX_EVENT_BYTES, MAX_EVENT_BYTES_LIMIT, stampEvent } from './stamp.js';

/** Longest the signed head trails the newest durable record while events keep arriving. */
export const ANCHOR_INTERVAL_MS = 20;

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
 * everything queued before the event loop turns is committed as one transaction (group commit),
 * and each promise resolves with its record only after COMMIT returned, i.e. once the event is
 * durable. When the write fails, every event of that batch rejects with `AUDIT_UNAVAILABLE`
 * (or `AUDIT_CORRUPT`) and callers must refuse the action they were about to take (AUD-03); the
 * log itself stays usable, so a later append succeeds once the cause is gone.
 *
 * The signed head (audit.head) is advanced off the acknowledgement path, at most once per
 * ANCHOR_INTERVAL_MS: it costs an fsync and a second write lock (~0.4 ms), and an egress decision
 * waits for its event. Until it moves, the newest records are "unanchored" (verify reports them):
 * removing those, and only those, would go unnoticed, so the window is kept short. A crash
 * leaves them unanchored, never a false tamper alarm, and the next writer anchors them. If
 * anchoring fails, later appends are refused until it succeeds, and close() reports it.
 *
 * The log owns its store: `close()` flushes, anchors and then closes it.
 */
export class AuditLog implements EventSink {
  readonly #store: SqliteAuditStore;
  readonly #maxEventBytes: number;
  readonly #maxBatch: number;
  readonly #now: () => Date;
  #queue: Pending[] = [];
  #scheduled = false;
  #anchorTimer: NodeJS.Timeout | null = null;
  #lastAnchor = 0;
  #anchorError: WardenError | null = null;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(store: SqliteAuditStore, options: AuditLogOptions = {}) {
    const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    if (!Number.isInteger(maxEventBytes) || maxEventBytes < 1024 || maxEventBytes > MAX_EVENT_BYTES_LIMIT) {
      throw new TypeError(`maxEventBytes must be an integer in [1024, ${MAX_EVENT_BYTES_LIMIT}]`);
    }
    const maxBatch = options.maxBatch ?? 1000;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 100_000)
      throw new TypeError('maxBatch must be an integer in [1, 100000]');
    this.#store = store;
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
    if (this.#queue.length === 0 && !this.#scheduled) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Refuses further appends, commits what is queued, then closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed && !this.#store.isOpen) return;
    this.#closed = true;
    await this.flush();
    if (!this.#store.isOpen) return; // opened lazily and never used
    try {
      this.#anchor();
    } finally {
      this.#store.close();
    }
    if (this.#anchorError !== null) throw this.#anchorError;
  }

  /** Advances the signed head to the newest record; remembers a failure (see the class comment). */
  #anchor(): void {
    if (this.#anchorTimer !== null) clearTimeout(this.#anchorTimer);
    this.#anchorTimer = null;
    this.#lastAnchor = performance.now();
    try {
      this.#store.anchorHead();
      this.#anchorError = null;
    } catch (err) {
      this.#anchorError = isWardenError(err)
        ? err
        : new WardenError('AUDIT_UNAVAILABLE', 'The audit head could not be advanced.', { cause: err });
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate rather than nextTick: appends made from I/O callbacks in the same loop turn
    // (e.g. many proxy connections) still land in one transaction.
    setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length > 0) this.#commit(batch);
    if (this.#queue.length > 0) {
      this.#schedule();
      return;
    }
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  #commit(batch: readonly Pending[]): void {
    let records: AuditRecord[];
    try {
      // A log opened with deferOpen opens its store here, on the first commit.
      if (!this.#store.isOpen) this.#store.open({ anchor: false });
      // A head that could not be advanced last time must move before anything else is recorded.
      if (this.#anchorError !== null) {
        this.#anchor();
        if (this.#anchorError !== null) throw this.#anchorError;
      }
      records = this.#store.appendBatch(
        batch.map((p) => p.event),
        { anchor: false },
      );
    } catch (err) {
      const error = isWardenError(err)
        ? err
        : new WardenError('AUDIT_UNAVAILABLE', 'The event was not recorded: the audit store failed unexpectedly.', {
            cause: err,
          });
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const record = records[i];
      if (record === undefined)
        p.reject(new WardenError('INTERNAL', 'The audit store returned fewer records than it was given.'));
      else p.resolve(record);
    });
    if (this.#anchorTimer === null) {
      const wait = Math.max(0, this.#lastAnchor + ANCHOR_INTERVAL_MS - performance.now());
      this.#anchorTimer = setTimeout(() => this.#anchor(), wait);
      // Never keep the process alive for the head alone: close() anchors synchronously.
      this.#anchorTimer.unref();
    }
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
}

/** Opens the SQLite store under `stateDir` and returns a log that owns it. */
export function openAuditLog(options: OpenAuditLogOptions): AuditLog {
  const store = new SqliteAuditStore({
    stateDir: options.stateDir,
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
  });
  if (options.deferOpen !== true) store.open();
  const { stateDir: _stateDir, busyTimeoutMs: _busy, deferOpen: _defer, ...logOptions } = options;
  return new AuditLog(store, logOptions);
}
