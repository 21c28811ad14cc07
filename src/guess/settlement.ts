/**
 * Settlement (note 003's `resultcenter`; docs/guess.md, "Settlement"): a
 * match's bets are decided, paid and refunded in batches of set-based SQL,
 * each batch one transaction under the match's row lock:
 *
 *   state 3 (settling)  placed → won | lost       then 3 → 4 (settled)
 *   state 4 (settled)   won → paid, payout entries then 4 → 9 (paid)
 *   state 6, 7          placed → refunded, refunds then → 8 (refunded)
 *
 * A batch is the next `batch` bets of the status it moves, in id order; its
 * statements move exactly those rows, and the ledger's primary key (the
 * entry's cause, "payout:<bet>" / "refund:<bet>") would refuse a second
 * credit even if a batch could run twice. So a process killed mid-way rolls
 * back its open batch, and whoever runs the match next (the queue's
 * redelivery, another process) goes on from the first bet not yet moved:
 * every bet is settled and credited exactly once.
 *
 * The bettor's push is due in the same statement that decides the bet
 * (push_state 1) and sent after the commit (then 2): at least once, never
 * before the money is in the ledger.
 */
import { setImmediate } from "node:timers/promises";
import { sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import type { Database, DbDialect, GuessBetStatus, Tables } from "../db/index.js";
import { writeAudit } from "./audit.js";
import { nextState, type MatchAction, type MatchState } from "./match-states.js";
import { lockMatch } from "./matches.js";
import { isDeadlock } from "../db/sql-errors.js";

type Trx = Transaction<Tables>;

export type SettlementPhase = "settle" | "pay" | "refund";

/** What one batch did. */
export interface BatchResult {
  /** null: the match's state needs no settlement (not 3, 4, 6 or 7). */
  phase: SettlementPhase | null;
  /** Bets this batch moved. */
  bets: number;
  /** The match's state after the batch. */
  state: MatchState;
  /** The batch ended a phase: the match moved to `state`. */
  moved: boolean;
  /**
   * The last bet this batch moved: the phase's next batch starts after it
   * (`step(matchId, cursor)`), so it never walks again over the bets
   * already moved — MySQL keeps them in the index, delete-marked, until
   * its purge catches up. null: start from the first.
   */
  cursor: string | null;
}

/** A bet whose outcome is due to its bettor. */
export interface SettledBet {
  betId: string;
  optionId: string;
  status: GuessBetStatus;
  stake: number;
  /** What was credited: the payout, the refunded stake, or 0 (lost). */
  credited: number;
}

/** Tells one bettor the outcomes of their bets on a match, with the balance after. */
export type OutcomeNotifier = (
  uid: string,
  matchId: string,
  bets: SettledBet[],
  balance: number,
) => Promise<void>;

export interface SettlementProgress {
  /** Bets on the match. */
  total: number;
  /** Decided: won, lost, paid or refunded. */
  settled: number;
  /** Credited: paid or refunded. */
  credited: number;
  byStatus: Record<GuessBetStatus, number>;
}

interface CreditPhase {
  from: GuessBetStatus;
  to: GuessBetStatus;
  /** The column credited: a win's payout, or the stake back. */
  amount: "win_amount" | "stake";
  kind: "payout" | "refund";
}

/** A batch: the bets after `after` (null: from the first) up to `last` (null: all the rest). */
interface Bounds {
  after: string | null;
  last: string | null;
}

const PAY: CreditPhase = { from: "won", to: "paid", amount: "win_amount", kind: "payout" };
const REFUND: CreditPhase = { from: "placed", to: "refunded", amount: "stake", kind: "refund" };

/** The phase of each state that has one, and the system action that ends it. */
const PHASES: Partial<Record<MatchState, { phase: SettlementPhase; done: MatchAction }>> = {
  3: { phase: "settle", done: "settled" },
  4: { phase: "pay", done: "paid" },
  6: { phase: "refund", done: "refunded" },
  7: { phase: "refund", done: "refunded" },
};

/** States whose match has settlement work: what the startup sweep enqueues. */
export const SETTLING_STATES: readonly MatchState[] = [3, 4, 6, 7];

const PUSH_DUE = 1;
const PUSH_SENT = 2;
/** Outcomes read for pushing at once. */
const PUSH_PAGE = 2000;
const DEADLOCK_RETRIES = 5;

export class Settlement {
  private readonly db: Kysely<Tables>;
  private readonly dialect: DbDialect;

  constructor(
    database: Database,
    private readonly batch: number,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
    this.dialect = database.dialect;
  }

  /**
   * Batches until the match needs nothing more; after each commit the
   * outcomes it made due are pushed (when `notify` is given). Answers the
   * final state.
   */
  async run(
    matchId: string,
    notify?: OutcomeNotifier,
    /** Called after a batch that moved the match to another state. */
    onState?: (state: MatchState) => Promise<void>,
  ): Promise<MatchState> {
    // Outcomes a killed run committed but did not push.
    if (notify) await this.notifyDue(matchId, notify);
    let cursor: string | null = null;
    for (;;) {
      const result = await this.step(matchId, cursor);
      cursor = result.cursor;
      if (notify && result.bets > 0) await this.notifyDue(matchId, notify);
      if (result.moved) await onState?.(result.state);
      if (result.phase === null) return result.state;
      // SQLite answers synchronously: without a turn of the event loop between
      // batches, a long settlement would hold every request of the process.
      await setImmediate();
    }
  }

  /**
   * One batch in one transaction, of the bets after `after` (the previous
   * batch's cursor; null: from the first); a deadlock victim (MySQL) runs again.
   */
  async step(matchId: string, after: string | null = null): Promise<BatchResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => this.stepIn(trx, matchId, after));
      } catch (err) {
        if (isDeadlock(err) && attempt < DEADLOCK_RETRIES) continue;
        throw err;
      }
    }
  }

  async progress(matchId: string): Promise<SettlementProgress> {
    const rows = await this.db
      .selectFrom("guess_bets")
      .select((eb) => ["status", eb.fn.countAll<number | string>().as("count")])
      .where("match_id", "=", matchId)
      .groupBy("status")
      .execute();
    const byStatus: Record<GuessBetStatus, number> = {
      placed: 0,
      won: 0,
      lost: 0,
      paid: 0,
      refunded: 0,
    };
    for (const row of rows) byStatus[row.status] = Number(row.count);
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    return {
      total,
      settled: total - byStatus.placed,
      credited: byStatus.paid + byStatus.refunded,
      byStatus,
    };
  }

  /** Pushes every due outcome of the match, one push per bettor per page, then marks them sent. */
  async notifyDue(matchId: string, notify: OutcomeNotifier): Promise<number> {
    let sent = 0;
    for (;;) {
      const due = await this.db
        .selectFrom("guess_bets")
        .select(["id", "uid", "option_id", "status", "stake", "credited"])
        .where("match_id", "=", matchId)
        .where("push_state", "=", PUSH_DUE)
        .orderBy("id")
        .limit(PUSH_PAGE)
        .execute();
      if (due.length === 0) return sent;
      const byUid = new Map<string, SettledBet[]>();
      for (const row of due) {
        const bets = byUid.get(row.uid) ?? [];
        bets.push({
          betId: row.id,
          optionId: row.option_id,
          status: row.status,
          stake: row.stake,
          credited: row.credited,
        });
        byUid.set(row.uid, bets);
      }
      const balances = new Map(
        (
          await this.db
            .selectFrom("guess_wallets")
            .select(["uid", "balance"])
            .where("uid", "in", [...byUid.keys()])
            .execute()
        ).map((w) => [w.uid, w.balance]),
      );
      await Promise.all(
        [...byUid].map(([uid, bets]) => notify(uid, matchId, bets, balances.get(uid) ?? 0)),
      );
      await this.db
        .updateTable("guess_bets")
        .set({ push_state: PUSH_SENT })
        .where(
          "id",
          "in",
          due.map((row) => row.id),
        )
        .execute();
      sent += due.length;
    }
  }

  private async stepIn(trx: Trx, matchId: string, after: string | null): Promise<BatchResult> {
    const row = await lockMatch(trx, matchId);
    const state = row.state as MatchState;
    const plan = PHASES[state];
    if (!plan) return { phase: null, bets: 0, state, moved: false, cursor: null };
    const now = this.now();
    const from = plan.phase === "settle" ? "placed" : plan.phase === "pay" ? PAY.from : REFUND.from;
    const bounds = { after, last: await this.batchEnd(trx, matchId, from, after) };
    const count =
      plan.phase === "settle"
        ? await this.decide(trx, matchId, row.result ?? "", bounds, now)
        : await this.credit(trx, matchId, plan.phase === "pay" ? PAY : REFUND, bounds, now);
    // Bets left: past this batch; or, after the last batch, anywhere (once per phase).
    let more = this.db
      .selectFrom("guess_bets")
      .select("id")
      .where("match_id", "=", matchId)
      .where("status", "=", from);
    if (bounds.last !== null) more = more.where("id", ">", bounds.last);
    const left = await trx.executeQuery(more.limit(1).compile());
    if (left.rows.length > 0) {
      await trx
        .updateTable("guess_matches")
        .set({ updated_at: now })
        .where("id", "=", matchId)
        .execute();
      return { phase: plan.phase, bets: count, state, moved: false, cursor: bounds.last };
    }
    const next = nextState(
      { state, approved: row.approved === 1, lockAt: row.lock_at, now },
      plan.done,
    );
    await trx
      .updateTable("guess_matches")
      .set({ state: next, updated_at: now })
      .where("id", "=", matchId)
      .execute();
    await writeAudit(trx, {
      at: now,
      actor: "system",
      action: plan.done,
      matchId,
      before: { state },
      after: { state: next },
      reason: null,
    });
    return { phase: plan.phase, bets: count, state: next, moved: true, cursor: null };
  }

  /** The id of the batch's last bet of `status`, or null when fewer than a batch are left. */
  private async batchEnd(
    trx: Trx,
    matchId: string,
    status: GuessBetStatus,
    after: string | null,
  ): Promise<string | null> {
    let query = trx
      .selectFrom("guess_bets")
      .select("id")
      .where("match_id", "=", matchId)
      .where("status", "=", status);
    if (after !== null) query = query.where("id", ">", after);
    const row = await query
      .orderBy("id")
      .limit(1)
      .offset(this.batch - 1)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  /** The batch's bets of status `from` (table alias b), as SQL. */
  private inBatch(matchId: string, from: GuessBetStatus, bounds: Bounds): RawBuilder<unknown> {
    const after = bounds.after === null ? sql`` : sql` and b.id > ${bounds.after}`;
    const last = bounds.last === null ? sql`` : sql` and b.id <= ${bounds.last}`;
    return sql`b.match_id = ${matchId} and b.status = ${from}${after}${last}`;
  }

  /** State 3: each placed bet of the batch is won (on the result) or lost. */
  private async decide(
    trx: Trx,
    matchId: string,
    result: string,
    bounds: Bounds,
    now: number,
  ): Promise<number> {
    // A lost bet's push is due now; a won one's when it is paid.
    const decided = await sql`
      update guess_bets as b
      set status = case when b.option_id = ${result} then 'won' else 'lost' end,
          push_state = case when b.option_id = ${result} then 0 else ${PUSH_DUE} end,
          settled_at = ${now}
      where ${this.inBatch(matchId, "placed", bounds)}`.execute(trx);
    return Number(decided.numAffectedRows ?? 0);
  }

  /**
   * State 4 (payouts) or 6/7 (refunds): the batch's wallets grow by their
   * bets' sum, one ledger entry per bet records it (balance_after counted
   * back from the wallet's new balance, bet by bet in id order), and the
   * bets move on — three statements, whatever the batch's size.
   */
  private async credit(
    trx: Trx,
    matchId: string,
    phase: CreditPhase,
    bounds: Bounds,
    now: number,
  ): Promise<number> {
    const amount = sql.ref(`b.${phase.amount}`);
    const batch = this.inBatch(matchId, phase.from, bounds);
    const totals = sql`(select b.uid, sum(${amount}) as total from guess_bets b where ${batch} group by b.uid)`;
    if (this.dialect === "mysql") {
      await sql`
        update guess_wallets w join ${totals} t on t.uid = w.uid
        set w.balance = w.balance + t.total, w.updated_at = ${now}`.execute(trx);
    } else {
      await sql`
        update guess_wallets set balance = balance + t.total, updated_at = ${now}
        from ${totals} as t where t.uid = guess_wallets.uid`.execute(trx);
    }
    const cause =
      this.dialect === "mysql"
        ? sql`concat(${`${phase.kind}:`}, b.id)`
        : sql`${`${phase.kind}:`} || b.id`;
    // PostgreSQL takes a bare parameter in a select list for text.
    const at = this.dialect === "postgres" ? sql`cast(${now} as bigint)` : sql`${now}`;
    await sql`
      insert into guess_ledger (cause, uid, kind, amount, balance_after, match_id, reason, created_at)
      select ${cause}, b.uid, ${phase.kind}, ${amount},
        w.balance - (sum(${amount}) over (partition by b.uid order by b.id
          rows between current row and unbounded following) - ${amount}),
        b.match_id, null, ${at}
      from guess_bets b join guess_wallets w on w.uid = b.uid
      where ${batch}`.execute(trx);
    const moved = await sql`
      update guess_bets as b
      set status = ${phase.to}, credited = ${amount}, push_state = ${PUSH_DUE},
          settled_at = coalesce(b.settled_at, ${now})
      where ${batch}`.execute(trx);
    return Number(moved.numAffectedRows ?? 0);
  }
}
