import type Database from 'better-sqlite3';
import { WardenError } from '../core/errors.js';
import type { AuditRecord, EndReason, EventPayloads } from '../core/events.js';
import { RUN_ID_PATTERN } from '../core/ids.js';
import { openReadOnly } from './schema.js';

/** One run as `warden audit list` shows it, built from its run.started and run.ended events. */
export interface RunSummary {
  readonly run_id: string;
  readonly agent: string;
  readonly profile: string;
  readonly command: readonly string[];
  /** ts of run.started. */
  readonly started: string;
  /** ts of run.ended; null while the run is going (or if warden died before recording it). */
  readonly ended: string | null;
  readonly reason: EndReason | null;
  readonly exit_code: number | null;
  readonly duration_ms: number | null;
  /** From run.ended; counted from the egress events while the run has not ended. */
  readonly egress: { readonly allowed: number; readonly denied: number };
}

export interface ListRunsOptions {
  /** Most runs returned, newest first (1-1000). */
  readonly limit: number;
  /** Only runs started at or after this time. */
  readonly since?: Date | string;
}

export interface AuditQueryOptions {
  readonly stateDir: string;
  readonly busyTimeoutMs?: number;
}

const MAX_LIST_LIMIT = 1000;

interface ListRow {
  readonly started: string;
  readonly ended: string | null;
}

function usage(message: string): WardenError {
  return new WardenError('USAGE', message);
}

/** Validates a run id from a user or file before it reaches a query; the message never echoes it. */
function checkRunId(runId: unknown): string {
  if (typeof runId !== 'string' || runId.length > 64 || !RUN_ID_PATTERN.test(runId)) {
    throw usage('Not a run id: expected "run_" followed by 26 Crockford base32 characters.');
  }
  return runId;
}

function sinceToIso(since: Date | string | undefined): string {
  if (since === undefined) return '';
  const date = typeof since === 'string' ? (since.length <= 64 ? new Date(since) : new Date(NaN)) : since;
  if (!(date instanceof Date) || Number.isNaN(date.getTime()))
    throw usage('--since must be a date or time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z.');
  return date.toISOString();
}

/**
 * Read-only queries over the audit log for the CLI and dashboard. Opens the db read-only and
 * never creates files; it does not verify the chain (that is `verifyAuditLog`).
 */
export class AuditQuery {
  readonly #options: AuditQueryOptions;
  #db: Database.Database | null = null;
  #opened = false;

  constructor(options: AuditQueryOptions) {
    if (typeof options.stateDir !== 'string' || options.stateDir === '') throw new TypeError('stateDir is required');
    this.#options = options;
  }

  /** Opens the db if there is one; a state dir without a log reads as an empty log. */
  open(): void {
    if (this.#opened) return;
    const opened = openReadOnly(this.#options.stateDir, this.#options.busyTimeoutMs);
    if (opened !== null && opened.state === 'empty') opened.db.close();
    else if (opened !== null) this.#db = opened.db;
    this.#opened = true;
  }

  /** Closes the db. Idempotent. */
  close(): void {
    this.#db?.close();
    this.#db = null;
    this.#opened = false;
  }

  /** The newest runs first, from their run.started / run.ended events. */
  listRuns(options: ListRunsOptions): RunSummary[] {
    const { limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
      throw usage(`--limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`);
    const since = sinceToIso(options.since);
    const db = this.#database();
    if (db === null) return [];
    const rows = db
      .prepare<[string, number], ListRow>(
        `SELECT s.json AS started,
                (SELECT e.json FROM events e WHERE e.run_id = s.run_id AND e.type = 'run.ended'
                  ORDER BY e.seq DESC LIMIT 1) AS ended
           FROM events s
          WHERE s.type = 'run.started' AND s.ts >= ?
          ORDER BY s.ts DESC, s.seq DESC
          LIMIT ?`,
      )
      .all(since, limit);
    const countEgress = db.prepare<[string], { type: string; n: number }>(
      `SELECT type, COUNT(*) AS n FROM events WHERE run_id = ? AND type IN ('egress.allowed', 'egress.denied') GROUP BY type`,
    );
    return rows.map((row) => {
      const started = JSON.parse(row.started) as {
        run_id: string;
        ts: string;
        agent: { name: string };
        data: EventPayloads['run.started'];
      };
      const ended =
        row.ended === null ? null : (JSON.parse(row.ended) as { ts: string; data: EventPayloads['run.ended'] });
      let egress = ended?.data.egress;
      if (egress === undefined) {
        const counts = new Map(countEgress.all(started.run_id).map((c) => [c.type, c.n]));
        egress = { allowed: counts.get('egress.allowed') ?? 0, denied: counts.get('egress.denied') ?? 0 };
      }
      return {
        run_id: started.run_id,
        agent: started.agent.name,
        profile: started.data.profile,
        command: started.data.command,
        started: started.ts,
        ended: ended?.ts ?? null,
        reason: ended?.data.reason ?? null,
        exit_code: ended?.data.exit_code ?? null,
        duration_ms: ended?.data.duration_ms ?? null,
        egress: { allowed: egress.allowed, denied: egress.denied },
      };
    });
  }

  /**
   * Every event of one run in seq order. Throws `USAGE` for a malformed run id (checked before
   * any query) and `AUDIT_NOT_FOUND` when the log has no event for it.
   */
  runEvents(runId: string): AuditRecord[] {
    const id = checkRunId(runId);
    const db = this.#database();
    const records =
      db === null
        ? []
        : db
            .prepare<[string], { hash: string; json: string }>(
              'SELECT hash, json FROM events WHERE run_id = ? ORDER BY seq',
            )
            .all(id)
            .map((row) => ({ ...(JSON.parse(row.json) as Omit<AuditRecord, 'hash'>), hash: row.hash }) as AuditRecord);
    if (records.length === 0) throw new WardenError('AUDIT_NOT_FOUND', `No run ${id} in the audit log.`);
    return records;
  }

  /**
   * The `mcp.server` events of one MCP server, in order, from the run `runId` or else from the
   * newest run that started that server: what `warden logs SERVER` shows (their `stderr`, `detail`,
   * `hint`). Null when the log has no event of that server (in that run).
   */
  serverEvents(server: string, runId?: string): { readonly run_id: string; readonly events: AuditRecord[] } | null {
    if (typeof server !== 'string' || !/^[a-z0-9][a-z0-9-]{0,31}$/.test(server))
      throw usage('Not a server name: lower-case letters, digits and - (at most 32).');
    const db = this.#database();
    if (db === null) return null;
    let id = runId === undefined ? null : checkRunId(runId);
    if (id === null) {
      const newest = db
        .prepare<[string], { run_id: string }>(
          `SELECT run_id FROM events WHERE type = 'mcp.server' AND json_extract(json, '$.data.server') = ?
            ORDER BY seq DESC LIMIT 1`,
        )
        .get(server);
      if (newest === undefined) return null;
      id = newest.run_id;
    }
    const events = db
      .prepare<[string, string], { hash: string; json: string }>(
        `SELECT hash, json FROM events WHERE run_id = ? AND type = 'mcp.server'
            AND json_extract(json, '$.data.server') = ? ORDER BY seq`,
      )
      .all(id, server)
      .map((row) => ({ ...(JSON.parse(row.json) as Omit<AuditRecord, 'hash'>), hash: row.hash }) as AuditRecord);
    return events.length === 0 ? null : { run_id: id, events };
  }

  #database(): Database.Database | null {
    if (!this.#opened) throw new WardenError('AUDIT_UNAVAILABLE', 'The audit query is not open.');
    return this.#db;
  }
}
