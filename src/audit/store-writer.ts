/**
 * The commit half of the audit log: writes batches of stamped events into the SQLite store and
 * keeps the signed head close behind. `AuditLog` decides what goes into a batch (group commit);
 * a writer only commits what it is given, in order. Two writers share one engine
 * ({@link StoreWriter}): inline, on the caller's thread, and in a worker thread
 * (thread-writer.ts), which takes SQLite's COMMIT, its fsync and the head's fsyncs off the
 * event loop that answers requests.
 */
import { WardenError, isWardenError } from '../core/errors.js';
import type { AuditRecord } from '../core/events.js';
import type { SqliteAuditStore, StampedEvent } from './sqlite-store.js';

/** Longest the signed head trails the newest durable record while events keep arriving. */
export const ANCHOR_INTERVAL_MS = 20;

/**
 * Commits batches of events. `commit` resolves with the batch's records, in order, only once
 * they are durable (COMMIT returned), and rejects with `AUDIT_UNAVAILABLE` or `AUDIT_CORRUPT`
 * when nothing of the batch was written. Callers never have two commits outstanding at once.
 */
export interface AuditWriter {
  commit(batch: readonly StampedEvent[]): Promise<AuditRecord[]>;
  /** Anchors the head and closes the store; rejects with the error of a head that could not be advanced. */
  close(): Promise<void>;
}

/**
 * Commits on the calling thread, synchronously. The signed head (audit.head) is advanced off the
 * acknowledgement path, at most once per ANCHOR_INTERVAL_MS: it costs an fsync and a second
 * write lock, and a caller waits for its event. Until it moves, the newest records are
 * "unanchored" (verify reports them): removing those, and only those, would go unnoticed, so the
 * window is kept short. A crash leaves them unanchored, never a false tamper alarm, and the next
 * writer anchors them. If anchoring fails, later commits are refused until it succeeds, and
 * close() reports it.
 */
export class StoreWriter implements AuditWriter {
  readonly #store: SqliteAuditStore;
  #anchorTimer: NodeJS.Timeout | null = null;
  #lastAnchor = 0;
  #anchorError: WardenError | null = null;

  constructor(store: SqliteAuditStore) {
    this.#store = store;
  }

  commit(batch: readonly StampedEvent[]): Promise<AuditRecord[]> {
    // A throw in the executor rejects the promise.
    return new Promise((resolve) => resolve(this.commitNow(batch)));
  }

  /** {@link commit}, returning or throwing synchronously (the worker thread's loop uses it). */
  commitNow(batch: readonly StampedEvent[]): AuditRecord[] {
    let records: AuditRecord[];
    try {
      // A log opened with deferOpen opens its store here, on the first commit.
      if (!this.#store.isOpen) this.#store.open({ anchor: false });
      // A head that could not be advanced last time must move before anything else is recorded.
      if (this.#anchorError !== null) {
        this.#anchor();
        if (this.#anchorError !== null) throw this.#anchorError;
      }
      records = this.#store.appendBatch(batch, { anchor: false });
    } catch (err) {
      throw isWardenError(err)
        ? err
        : new WardenError('AUDIT_UNAVAILABLE', 'The event was not recorded: the audit store failed unexpectedly.', {
            cause: err,
          });
    }
    if (records.length !== batch.length)
      throw new WardenError('INTERNAL', 'The audit store returned fewer records than it was given.');
    if (this.#anchorTimer === null) {
      const wait = Math.max(0, this.#lastAnchor + ANCHOR_INTERVAL_MS - performance.now());
      this.#anchorTimer = setTimeout(() => this.#anchor(), wait);
      // Never keep the process alive for the head alone: close() anchors synchronously.
      this.#anchorTimer.unref();
    }
    return records;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.closeNow();
      resolve();
    });
  }

  /** {@link close}, synchronously. Idempotent. */
  closeNow(): void {
    if (this.#anchorTimer !== null) clearTimeout(this.#anchorTimer);
    this.#anchorTimer = null;
    if (!this.#store.isOpen) return; // opened lazily and never used, or closed already
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
    if (!this.#store.isOpen) return;
    try {
      this.#store.anchorHead();
      this.#anchorError = null;
    } catch (err) {
      this.#anchorError = isWardenError(err)
        ? err
        : new WardenError('AUDIT_UNAVAILABLE', 'The audit head could not be advanced.', { cause: err });
    }
  }
}
