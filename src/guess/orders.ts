/**
 * Top-up orders (docs/payments.md; design note 003's payserver/payuser). A
 * user creates an order for an amount and a provider, pays it in the
 * provider's app with the order id, and the provider's verified callback
 * (pay-notify.ts) credits the wallet through the ledger as "topup:<order id>".
 *
 * Applying a payment is one transaction that first locks the order's row (a
 * write to it, as Matches.lockMatch does), so two deliveries of one callback
 * — a provider's retry racing its first attempt, two server instances —
 * decide one after the other: the first credits, the second finds the order
 * paid by that transaction and credits nothing. A transaction pays one order
 * only ((provider, transaction_id) is unique); the amount and currency must
 * be the order's, to the fen.
 *
 * Creating is idempotent by (uid, clientOrderId), as placing a bet is by
 * clientBetId: a retry gets the first order back.
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Database, GuessOrderStatus, GuessOrderTable, Tables } from "../db/index.js";
import { notConfigured, providerConfigured, type PaymentSettings } from "./pay-config.js";
import type { PaymentProvider, VerifiedPayment } from "./pay-shared.js";
import { decodeNewestCursor, newestPage, olderThan } from "./newest-first.js";
import { isDeadlock, isDuplicateKey } from "../db/sql-errors.js";
import type { Wallets } from "./wallet.js";

type Trx = Transaction<Tables>;

export const ORDER_CURRENCY = "CNY";

/** A client's id for an order: what a retry repeats. */
export const CLIENT_ORDER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface OrderRequest {
  /** Minor units (fen). */
  amount: number;
  provider: PaymentProvider;
  clientOrderId?: string | undefined;
}

/** An order as the API answers it: times as ISO strings. */
export interface OrderView {
  orderId: string;
  amount: number;
  currency: string;
  provider: PaymentProvider;
  status: GuessOrderStatus;
  clientOrderId: string | null;
  createdAt: string;
  /** After this the order may be closed unpaid; a payment that still arrives is credited. */
  expiresAt: string;
  paidAt: string | null;
}

export interface CreatedOrder extends OrderView {
  /** True when this clientOrderId was used before: the first order is answered. */
  repeated: boolean;
}

export interface AppliedPayment {
  /**
   * credited: the wallet grew by the order's amount now; repeated: this
   * transaction paid the order before (nothing credited now); ignored: the
   * notification reports a trade that was not paid (nothing changed).
   */
  outcome: "credited" | "repeated" | "ignored";
  orderId: string;
  uid: string;
  /** The wallet's balance after the credit (the current one otherwise). */
  balance: number;
}

const DEADLOCK_RETRIES = 5;
const MAX_ORDER_ID = 40;
const MAX_TRANSACTION_ID = 64;

/**
 * Order ids unique across processes without coordination. Note 003 gave each
 * logic worker a configured `work_id` to put in its ids; here each Orders
 * draws a 48-bit random node id instead (no setting to get wrong when workers
 * are added), and an id is "o" + the time (ms, base36, 9) + the node (10) + a
 * counter (base36, 5): two ids of one node differ by the counter (60 M ids
 * before it wraps, never within one millisecond), two nodes by their random
 * ids (two of 1,000 workers share one with odds ~2e-9, and would then also
 * need the same millisecond and counter; the primary key refuses the rest).
 * 25 of [0-9a-z] fit WeChat Pay's out_trade_no (≤ 32 of letters, digits,
 * _ - *) and Alipay's (≤ 64), and time-ordered ids append to the primary key's
 * B-tree instead of splitting random pages, as 16 random bytes would.
 */
export class OrderIds {
  private readonly node = randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, "0");
  private counter = 0;

  next(now: number): string {
    this.counter = (this.counter + 1) % 36 ** 5;
    const time = Math.max(0, Math.trunc(now)).toString(36).padStart(9, "0");
    return `o${time}${this.node}${this.counter.toString(36).padStart(5, "0")}`;
  }
}

function orderView(row: GuessOrderTable): OrderView {
  return {
    orderId: row.id,
    amount: row.amount,
    currency: row.currency,
    provider: row.provider,
    status: row.status,
    clientOrderId: row.client_order_id,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    paidAt: row.paid_at === null ? null : new Date(row.paid_at).toISOString(),
  };
}

function invalid(field: string, message: string): GamedockError {
  return new GamedockError("E_INVALID_REQUEST", `${field} ${message}`, { field });
}

export class Orders {
  private readonly db: Kysely<Tables>;
  private readonly ids = new OrderIds();

  constructor(
    database: Database,
    private readonly wallets: Wallets,
    private readonly settings: PaymentSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
  }

  /** A new pending order, or the first one for a clientOrderId used before. */
  async create(uid: string, request: OrderRequest): Promise<CreatedOrder> {
    this.checkRequest(request);
    if (request.clientOrderId !== undefined) {
      const first = await this.byClientId(uid, request.clientOrderId);
      if (first) return { ...orderView(first), repeated: true };
    }
    if (!providerConfigured(this.settings, request.provider)) {
      throw notConfigured(request.provider);
    }
    for (let attempt = 1; ; attempt++) {
      const now = this.now();
      const row: GuessOrderTable = {
        id: this.ids.next(now),
        uid,
        client_order_id: request.clientOrderId ?? null,
        amount: request.amount,
        currency: ORDER_CURRENCY,
        provider: request.provider,
        status: "pending",
        transaction_id: null,
        created_at: now,
        paid_at: null,
        expires_at: now + this.settings.orderTtlMs,
      };
      try {
        await this.db.insertInto("guess_orders").values(row).execute();
        return { ...orderView(row), repeated: false };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // The same clientOrderId created concurrently: the first insert won; answer with it.
        if (request.clientOrderId !== undefined) {
          const won = await this.byClientId(uid, request.clientOrderId);
          if (won) return { ...orderView(won), repeated: true };
        }
        // Otherwise an id collision (see OrderIds): draw the next id.
        if (attempt >= 3) throw err;
      }
    }
  }

  /**
   * Applies a verified payment to its order, in one transaction, crediting
   * at most once. Refused, crediting nothing: E_NOT_FOUND (no such order),
   * E_PAY_AMOUNT_MISMATCH (amount or currency not the order's), E_PAY_CONFLICT
   * (the order was paid by another transaction, the transaction paid another
   * order, or it came through another provider than the order's).
   *
   * An order past its expiry (or closed by closeExpired) is still credited:
   * the expiry only says when we stop expecting the money, and money that
   * arrived anyway belongs to the user.
   */
  async applyPayment(payment: VerifiedPayment): Promise<AppliedPayment> {
    if (payment.orderId.length > MAX_ORDER_ID) throw this.unknownOrder(payment.orderId);
    if (payment.transactionId.length > MAX_TRANSACTION_ID) {
      throw invalid("transactionId", `must be at most ${MAX_TRANSACTION_ID} characters`);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => this.applyIn(trx, payment));
      } catch (err) {
        // A deadlock victim rolled back whole; a duplicate key means a concurrent
        // transaction committed the same transaction id or credit first: in both
        // cases the next attempt reads what committed and answers from it.
        if ((isDeadlock(err) || isDuplicateKey(err)) && attempt < DEADLOCK_RETRIES) continue;
        throw err;
      }
    }
  }

  /** The user's order, or null (also for another user's order). */
  async get(uid: string, orderId: string): Promise<OrderView | null> {
    if (orderId.length > MAX_ORDER_ID) return null;
    const row = await this.db
      .selectFrom("guess_orders")
      .selectAll()
      .where("id", "=", orderId)
      .where("uid", "=", uid)
      .executeTakeFirst();
    return row ? orderView(row) : null;
  }

  /** The user's orders, newest first, a page at a time. */
  async list(
    uid: string,
    page: { cursor?: string | undefined; limit: number },
  ): Promise<{ orders: OrderView[]; nextCursor: string | null }> {
    let query = this.db.selectFrom("guess_orders").selectAll().where("uid", "=", uid);
    if (page.cursor !== undefined) {
      query = query.where(
        olderThan(decodeNewestCursor(page.cursor, /[a-z0-9]{1,40}/), "created_at", "id"),
      );
    }
    const rows = await query
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1)
      .execute();
    const { shown, nextCursor } = newestPage(rows, page.limit, (row) => ({
      at: row.created_at,
      key: row.id,
    }));
    return { orders: shown.map(orderView), nextCursor };
  }

  /** Marks pending orders past their expiry closed; answers how many. A late payment still credits them. */
  async closeExpired(): Promise<number> {
    const result = await this.db
      .updateTable("guess_orders")
      .set({ status: "closed" })
      .where("status", "=", "pending")
      .where("expires_at", "<=", this.now())
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  private checkRequest(request: OrderRequest): void {
    const { minTopUp, maxTopUp } = this.settings;
    const amount: unknown = request.amount;
    if (
      typeof amount !== "number" ||
      !Number.isSafeInteger(amount) ||
      amount < minTopUp ||
      amount > maxTopUp
    ) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `amount must be a whole number of fen from ${minTopUp} to ${maxTopUp} (guess.payments.minTopUp/maxTopUp), got ${String(amount)}`,
        { field: "amount", minTopUp, maxTopUp },
      );
    }
    const provider: unknown = request.provider;
    if (provider !== "wechat" && provider !== "alipay") {
      throw invalid("provider", "must be wechat or alipay");
    }
    const clientOrderId: unknown = request.clientOrderId;
    if (
      clientOrderId !== undefined &&
      (typeof clientOrderId !== "string" || !CLIENT_ORDER_ID.test(clientOrderId))
    ) {
      throw invalid("clientOrderId", "must be 1–64 of A-Z a-z 0-9 _ . : -");
    }
  }

  private byClientId(uid: string, clientOrderId: string): Promise<GuessOrderTable | undefined> {
    return this.db
      .selectFrom("guess_orders")
      .selectAll()
      .where("uid", "=", uid)
      .where("client_order_id", "=", clientOrderId)
      .executeTakeFirst();
  }

  private unknownOrder(orderId: string): GamedockError {
    return new GamedockError("E_NOT_FOUND", `no top-up order ${JSON.stringify(orderId)}`, {
      orderId,
    });
  }

  private async applyIn(trx: Trx, payment: VerifiedPayment): Promise<AppliedPayment> {
    const order = await this.lockOrder(trx, payment.orderId);
    if (!order) throw this.unknownOrder(payment.orderId);
    const applied = (outcome: AppliedPayment["outcome"], balance: number): AppliedPayment => ({
      outcome,
      orderId: order.id,
      uid: order.uid,
      balance,
    });
    if (order.provider !== payment.provider) {
      throw new GamedockError(
        "E_PAY_CONFLICT",
        `order ${order.id} is to be paid through ${order.provider}, not ${payment.provider}`,
        { orderId: order.id },
      );
    }
    // A trade still waiting, closed or refunded: nothing to credit, nothing to record.
    if (!payment.paid) return applied("ignored", await this.balanceIn(trx, order.uid));
    if (payment.amount !== order.amount || payment.currency !== order.currency) {
      throw new GamedockError(
        "E_PAY_AMOUNT_MISMATCH",
        `order ${order.id} is for ${order.amount} ${order.currency}; the payment is ${payment.amount} ${payment.currency}`,
        { orderId: order.id },
      );
    }
    if (order.status === "paid") {
      if (order.transaction_id === payment.transactionId) {
        return applied("repeated", await this.balanceIn(trx, order.uid));
      }
      throw new GamedockError(
        "E_PAY_CONFLICT",
        `order ${order.id} was paid by another transaction; ${payment.transactionId} needs a refund`,
        { orderId: order.id },
      );
    }
    const other = await trx
      .selectFrom("guess_orders")
      .select("id")
      .where("provider", "=", payment.provider)
      .where("transaction_id", "=", payment.transactionId)
      .executeTakeFirst();
    if (other) {
      throw new GamedockError(
        "E_PAY_CONFLICT",
        `transaction ${payment.transactionId} already paid another order`,
        { orderId: order.id },
      );
    }
    // pending or closed: the money arrived, so it is credited either way.
    await trx
      .updateTable("guess_orders")
      .set({ status: "paid", transaction_id: payment.transactionId, paid_at: this.now() })
      .where("id", "=", order.id)
      .execute();
    const posted = await this.wallets.postIn(trx, {
      cause: `topup:${order.id}`,
      uid: order.uid,
      kind: "topup",
      amount: order.amount,
    });
    return applied("credited", posted.balanceAfter);
  }

  /** The order under its row's write lock (a write first, as Matches.lockMatch does). */
  private async lockOrder(trx: Trx, id: string): Promise<GuessOrderTable | undefined> {
    await trx
      .updateTable("guess_orders")
      .set((eb) => ({ status: eb.ref("status") }))
      .where("id", "=", id)
      .execute();
    return trx.selectFrom("guess_orders").selectAll().where("id", "=", id).executeTakeFirst();
  }

  private async balanceIn(trx: Trx, uid: string): Promise<number> {
    const row = await trx
      .selectFrom("guess_wallets")
      .select("balance")
      .where("uid", "=", uid)
      .executeTakeFirst();
    return row?.balance ?? 0;
  }
}
