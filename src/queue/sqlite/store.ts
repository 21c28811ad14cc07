/**
 * The SQLite side of the embedded queue: one table holds the messages of every
 * queue in the file. Several processes may share the file (WAL, busy_timeout);
 * every change is one short transaction, and a claim takes the write lock up
 * front (BEGIN IMMEDIATE) so two consumers can never lease the same message.
 */
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  GamedockError,
  asError,
  fsError,
  makeDirectorySync,
  directoryError,
} from "../../core/index.js";

type Db = Database.Database;

export interface ClaimedRow {
  id: string;
  payload: string;
  attempt: number;
}

export interface DeadRow {
  id: string;
  payload: string;
  attempt: number;
  dead_reason: string;
}

export interface LeaseSummary {
  owner: string;
  until: number;
}

export interface NewMessage {
  id: string;
  queue: string;
  payload: string;
  attempt: number;
  front: boolean;
  availableAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_messages (
  seq          INTEGER PRIMARY KEY,  -- enqueue order; front messages jump it
  id           TEXT NOT NULL UNIQUE, -- Delivery.id, kept across retries
  queue        TEXT NOT NULL,
  payload      TEXT NOT NULL,        -- JSON
  attempt      INTEGER NOT NULL,
  front        INTEGER NOT NULL,     -- 1 = delivered before every 0
  available_at INTEGER NOT NULL,     -- epoch ms; later = delayed
  state        TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'dead')),
  lease_owner  TEXT,                 -- host/pid/token of the consumer holding it
  lease_until  INTEGER,              -- epoch ms; renewed by the holder's heartbeat
  dead_reason  TEXT,
  dead_at      INTEGER
);
CREATE INDEX IF NOT EXISTS queue_messages_order ON queue_messages (queue, state, front DESC, seq);
CREATE INDEX IF NOT EXISTS queue_messages_due ON queue_messages (queue, state, available_at);
`;

const NEXT_READY = `SELECT seq FROM queue_messages
  WHERE queue = ? AND state = 'ready' AND available_at <= ?
  ORDER BY front DESC, seq LIMIT 1`;

function openDatabase(path: string): Db {
  try {
    makeDirectorySync(dirname(path), directoryError("directory of the queue database"));
    const db = new Database(path);
    // WAL lets readers run beside one writer; busy_timeout makes a process wait
    // for another's write instead of failing. NORMAL sync in WAL survives any
    // process crash (the contract's promise); only an OS crash can lose the
    // last commits.
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 5000");
    db.pragma("synchronous = NORMAL");
    db.exec(SCHEMA);
    return db;
  } catch (err) {
    const mapped = fsError(err, path, "queue database");
    if (mapped instanceof GamedockError) throw mapped;
    throw new GamedockError(
      "E_CONFIG",
      `queue database ${path} cannot be opened: ${asError(err).message}`,
      { path },
    );
  }
}

export class SqliteQueueStore {
  private readonly db: Db;
  private readonly insertStmt;
  private readonly nextReadyStmt;
  private readonly claimStmt;
  private readonly nextDueStmt;
  private readonly renewStmt;
  private readonly ackStmt;
  private readonly retryStmt;
  private readonly deadStmt;
  private readonly leasesStmt;
  private readonly releaseExpiredStmt;
  private readonly releaseOwnerStmt;
  private readonly pendingStmt;
  private readonly deadListStmt;
  private readonly purgeStmt;
  private readonly claimTx;
  private readonly releaseTx;

  constructor(readonly path: string) {
    const db = openDatabase(path);
    this.db = db;
    this.insertStmt = db.prepare<[string, string, string, number, number, number]>(
      `INSERT INTO queue_messages (id, queue, payload, attempt, front, available_at, state)
       VALUES (?, ?, ?, ?, ?, ?, 'ready')`,
    );
    this.nextReadyStmt = db.prepare<[string, number], { seq: number }>(NEXT_READY);
    this.claimStmt = db.prepare<[string, number, string, number], ClaimedRow>(
      `UPDATE queue_messages SET state = 'leased', lease_owner = ?, lease_until = ?
       WHERE seq = (${NEXT_READY}) RETURNING id, payload, attempt`,
    );
    this.nextDueStmt = db.prepare<[string], { next: number | null }>(
      `SELECT MIN(available_at) AS next FROM queue_messages WHERE queue = ? AND state = 'ready'`,
    );
    this.renewStmt = db.prepare<[number, string]>(
      `UPDATE queue_messages SET lease_until = ? WHERE lease_owner = ? AND state = 'leased'`,
    );
    this.ackStmt = db.prepare<[string, string]>(
      `DELETE FROM queue_messages WHERE id = ? AND lease_owner = ? AND state = 'leased'`,
    );
    this.retryStmt = db.prepare<[number, string, string]>(
      `UPDATE queue_messages
       SET state = 'ready', attempt = attempt + 1, available_at = ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ? AND lease_owner = ? AND state = 'leased'`,
    );
    this.deadStmt = db.prepare<[string, number, string, string]>(
      `UPDATE queue_messages
       SET state = 'dead', dead_reason = ?, dead_at = ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ? AND lease_owner = ? AND state = 'leased'`,
    );
    this.leasesStmt = db.prepare<[string], LeaseSummary>(
      `SELECT lease_owner AS owner, MIN(lease_until) AS until FROM queue_messages
       WHERE queue = ? AND state = 'leased' GROUP BY lease_owner`,
    );
    this.releaseExpiredStmt = db.prepare<[string, number]>(
      `UPDATE queue_messages SET state = 'ready', lease_owner = NULL, lease_until = NULL
       WHERE queue = ? AND state = 'leased' AND lease_until < ?`,
    );
    this.releaseOwnerStmt = db.prepare<[string, string]>(
      `UPDATE queue_messages SET state = 'ready', lease_owner = NULL, lease_until = NULL
       WHERE queue = ? AND state = 'leased' AND lease_owner = ?`,
    );
    this.pendingStmt = db.prepare<[string], { n: number }>(
      `SELECT COUNT(*) AS n FROM queue_messages WHERE queue = ? AND state IN ('ready', 'leased')`,
    );
    this.deadListStmt = db.prepare<[string], DeadRow>(
      `SELECT id, payload, attempt, dead_reason FROM queue_messages
       WHERE queue = ? AND state = 'dead' ORDER BY dead_at, seq`,
    );
    this.purgeStmt = db.prepare<[string]>(`DELETE FROM queue_messages WHERE queue = ?`);
    this.claimTx = db.transaction(
      (queue: string, owner: string, now: number, leaseMs: number): ClaimedRow | undefined =>
        this.claimStmt.get(owner, now + leaseMs, queue, now),
    );
    this.releaseTx = db.transaction((queue: string, now: number, deadOwners: string[]): number => {
      let released = this.releaseExpiredStmt.run(queue, now).changes;
      for (const owner of deadOwners) released += this.releaseOwnerStmt.run(queue, owner).changes;
      return released;
    });
  }

  insert(message: NewMessage): void {
    this.insertStmt.run(
      message.id,
      message.queue,
      message.payload,
      message.attempt,
      message.front ? 1 : 0,
      message.availableAt,
    );
  }

  /** Leases the next deliverable message of `queue` to `owner`, if there is one. */
  claim(queue: string, owner: string, now: number, leaseMs: number): ClaimedRow | undefined {
    // A plain read first: an idle poll must not take the write lock.
    if (this.nextReadyStmt.get(queue, now) === undefined) return undefined;
    return this.claimTx.immediate(queue, owner, now, leaseMs);
  }

  /** Earliest time a waiting (possibly delayed) message of `queue` becomes deliverable. */
  nextDue(queue: string): number | undefined {
    return this.nextDueStmt.get(queue)?.next ?? undefined;
  }

  /** Extends every lease `owner` holds; returns how many it still holds. */
  renew(owner: string, leaseUntil: number): number {
    return this.renewStmt.run(leaseUntil, owner).changes;
  }

  /** Each settle returns false when `owner` no longer holds the lease. */
  ack(id: string, owner: string): boolean {
    return this.ackStmt.run(id, owner).changes === 1;
  }

  retry(id: string, owner: string, availableAt: number): boolean {
    return this.retryStmt.run(availableAt, id, owner).changes === 1;
  }

  deadLetter(id: string, owner: string, reason: string, now: number): boolean {
    return this.deadStmt.run(reason, now, id, owner).changes === 1;
  }

  /** Who holds leases in `queue`, and the earliest expiry of each holder's leases. */
  leases(queue: string): LeaseSummary[] {
    return this.leasesStmt.all(queue);
  }

  /** Makes leases that expired or whose owner is gone deliverable again. */
  release(queue: string, now: number, deadOwners: string[]): number {
    return this.releaseTx.immediate(queue, now, deadOwners);
  }

  pendingCount(queue: string): number {
    return this.pendingStmt.get(queue)?.n ?? 0;
  }

  deadLetters(queue: string): DeadRow[] {
    return this.deadListStmt.all(queue);
  }

  purge(queue: string): void {
    this.purgeStmt.run(queue);
  }

  /** Throws unless the database file answers a query. */
  ping(): void {
    this.db.prepare("select 1").get();
  }

  close(): void {
    this.db.close();
  }
}
