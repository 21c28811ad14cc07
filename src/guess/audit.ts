/**
 * The audit trail of guessing (docs/guess.md, "Audit"): one row per admin
 * action or system change — who, when, what, before → after, why — written
 * in the transaction of the change itself, so no change goes unrecorded and
 * no record describes a change that rolled back.
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { GuessAuditTable, Tables } from "../db/index.js";
import { decodeNewestCursor, newestPage, olderThan } from "./newest-first.js";

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  matchId?: string | null;
  uid?: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
}

export interface AuditView {
  id: string;
  at: string;
  actor: string;
  action: string;
  matchId: string | null;
  uid: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
}

export interface AuditFilter {
  matchId?: string | undefined;
  action?: string | undefined;
  actor?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** Rows written in one millisecond by this process keep their order through this counter. */
let written = 0;

/** What auditId writes (a cursor's key is checked against it). */
const AUDIT_ID = /a[a-z0-9]{9}-[a-z0-9]{6}-[0-9a-f]{8}/;

/**
 * Sorts like the rows it names: the time, then this process's count (two
 * changes in one millisecond list in the order they happened), then random
 * bytes so two processes never collide.
 */
function auditId(at: number): string {
  written = (written + 1) % 36 ** 6;
  const time = at.toString(36).padStart(9, "0");
  return `a${time}-${written.toString(36).padStart(6, "0")}-${randomBytes(4).toString("hex")}`;
}

export async function writeAudit(trx: Transaction<Tables>, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto("guess_audit")
    .values({
      id: auditId(entry.at),
      at: entry.at,
      actor: entry.actor,
      action: entry.action,
      match_id: entry.matchId ?? null,
      uid: entry.uid ?? null,
      before_state: entry.before === null ? null : JSON.stringify(entry.before),
      after_state: entry.after === null ? null : JSON.stringify(entry.after),
      reason: entry.reason,
    })
    .execute();
}

function view(row: GuessAuditTable): AuditView {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    action: row.action,
    matchId: row.match_id,
    uid: row.uid,
    before: row.before_state === null ? null : (JSON.parse(row.before_state) as unknown),
    after: row.after_state === null ? null : (JSON.parse(row.after_state) as unknown),
    reason: row.reason,
  };
}

/** Newest first, a page at a time. */
export async function listAudit(
  db: Kysely<Tables>,
  filter: AuditFilter,
): Promise<{ entries: AuditView[]; nextCursor: string | null }> {
  let query = db.selectFrom("guess_audit").selectAll();
  if (filter.matchId !== undefined) query = query.where("match_id", "=", filter.matchId);
  if (filter.action !== undefined) query = query.where("action", "=", filter.action);
  if (filter.actor !== undefined) query = query.where("actor", "=", filter.actor);
  if (filter.cursor !== undefined) {
    query = query.where(olderThan(decodeNewestCursor(filter.cursor, AUDIT_ID), "at", "id"));
  }
  const rows = await query
    .orderBy("at", "desc")
    .orderBy("id", "desc")
    .limit(filter.limit + 1)
    .execute();
  const { shown, nextCursor } = newestPage(rows, filter.limit, (row) => ({
    at: row.at,
    key: row.id,
  }));
  return { entries: shown.map(view), nextCursor };
}
