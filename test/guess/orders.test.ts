/**
 * Top-up orders in SQL on every database: creating checks the limits and the
 * provider, is idempotent by clientOrderId (also when the repeats race), and
 * ids stay unique across Orders instances (as across workers) created at the
 * same millisecond; a verified payment credits its order once — also when
 * two deliveries race — and one that does not fit (amount, currency, unknown
 * order, unpaid, a transaction already used, another provider) credits
 * nothing, checked in the balance and the ledger; reconcile passes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULTS, GamedockError } from "../../src/core/index.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { Wallets, reconcile } from "../../src/guess/index.js";
import { OrderIds, Orders, type OrderView } from "../../src/guess/orders.js";
import type { PaymentSettings } from "../../src/guess/pay-config.js";
import type { VerifiedPayment } from "../../src/guess/pay-notify.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import {
  API_V3_KEY,
  APP_ID,
  MCH_ID,
  WECHAT_SERIAL,
  alipay,
  pem,
  wechatPlatform,
} from "./pay-signers.js";

const SETTINGS: PaymentSettings = {
  ...DEFAULTS.guess.payments,
  wechat: {
    mchId: MCH_ID,
    apiV3Key: API_V3_KEY,
    platformKeys: { [WECHAT_SERIAL]: pem(wechatPlatform.publicKey) },
  },
  alipay: { appId: APP_ID, publicKey: pem(alipay.publicKey) },
};

const code = (expected: string, field?: string) => (err: unknown) => {
  assert.ok(err instanceof GamedockError, String(err));
  assert.equal(err.code, expected, err.message);
  if (field !== undefined) assert.equal(err.details?.field, field);
  return true;
};

describe("order ids", () => {
  it("differ between two generators (two workers) at the same millisecond, by their node ids", () => {
    const at = Date.parse("2026-12-10T10:00:00Z");
    const ids = [new OrderIds(), new OrderIds()].flatMap((generator) =>
      Array.from({ length: 500 }, () => generator.next(at)),
    );
    assert.equal(new Set(ids).size, 1000);
    for (const id of ids) assert.match(id, /^o[0-9a-z]{24}$/); // WeChat's out_trade_no: ≤ 32
    // Time first: ids of later orders sort after earlier ones.
    const [earlier, later] = [new OrderIds().next(at), new OrderIds().next(at + 1)];
    assert.ok(earlier.slice(0, 10) < later.slice(0, 10));
  });
});

for (const target of DATABASE_TARGETS) {
  describe(`top-up orders on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let now = Date.parse("2026-12-10T10:00:00Z");
    let wallets: Wallets;
    let orders: Orders;
    let n = 0;
    const clock = () => now;

    /** A new order for a new uid (or the one given). */
    async function newOrder(
      amount = 1234,
      provider: "wechat" | "alipay" = "wechat",
      uid = `user-${++n}`,
    ): Promise<OrderView & { uid: string }> {
      return { ...(await orders.create(uid, { amount, provider })), uid };
    }
    const paymentOf = (
      order: OrderView,
      overrides: Partial<VerifiedPayment> = {},
    ): VerifiedPayment => ({
      provider: order.provider,
      orderId: order.orderId,
      transactionId: `tx-${order.orderId}`,
      amount: order.amount,
      currency: "CNY",
      paid: true,
      notifiedAt: now,
      ...overrides,
    });
    const ledgerOf = (uid: string) =>
      database.db.selectFrom("guess_ledger").selectAll().where("uid", "=", uid).execute();
    const orderRow = (id: string) =>
      database.db
        .selectFrom("guess_orders")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirstOrThrow();

    /** Nothing was credited: no wallet, no ledger entry, the order still pending. */
    async function assertNothingCredited(order: OrderView & { uid: string }): Promise<void> {
      assert.equal(await wallets.balance(order.uid), 0);
      assert.deepEqual(await ledgerOf(order.uid), []);
      const row = await orderRow(order.orderId);
      assert.equal(row.status, "pending");
      assert.equal(row.transaction_id, null);
    }

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "guess-orders");
      database = await openDatabase(testDb.config);
      wallets = new Wallets(database, clock);
      orders = new Orders(database, wallets, SETTINGS, clock);
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("creates a pending order in CNY that expires after orderTtlMs", async () => {
      const order = await orders.create("alice", { amount: 100, provider: "alipay" });
      assert.match(order.orderId, /^o[0-9a-z]{24}$/);
      assert.deepEqual(
        { ...order, orderId: "" },
        {
          orderId: "",
          amount: 100,
          currency: "CNY",
          provider: "alipay",
          status: "pending",
          clientOrderId: null,
          createdAt: new Date(now).toISOString(),
          expiresAt: new Date(now + SETTINGS.orderTtlMs).toISOString(),
          paidAt: null,
          repeated: false,
        },
      );
      const { repeated, ...view } = order;
      assert.equal(repeated, false);
      assert.deepEqual(await orders.get("alice", order.orderId), view);
      assert.equal(await orders.get("bob", order.orderId), null, "another user's order");
    });

    it("refuses amounts outside the limits, unknown providers and bad client ids", async () => {
      for (const amount of [0, 99, 5_000_001, 100.5, Number.NaN, -100]) {
        await assert.rejects(
          orders.create("alice", { amount, provider: "wechat" }),
          code("E_INVALID_REQUEST", "amount"),
          String(amount),
        );
      }
      await assert.rejects(
        orders.create("alice", { amount: 100, provider: "paypal" as "wechat" }),
        code("E_INVALID_REQUEST", "provider"),
      );
      for (const clientOrderId of ["", "x".repeat(65), "has space", "中文"]) {
        await assert.rejects(
          orders.create("alice", { amount: 100, provider: "wechat", clientOrderId }),
          code("E_INVALID_REQUEST", "clientOrderId"),
        );
      }
      const unconfigured = new Orders(database, wallets, DEFAULTS.guess.payments, clock);
      await assert.rejects(
        unconfigured.create("alice", { amount: 100, provider: "wechat" }),
        code("E_PAY_NOT_CONFIGURED"),
      );
    });

    it("answers the first order for a repeated clientOrderId, also when the repeats race", async () => {
      const first = await orders.create("carol", {
        amount: 500,
        provider: "wechat",
        clientOrderId: "c-1",
      });
      const again = await orders.create("carol", {
        amount: 900, // a repeat is answered the first order, whatever it asks now
        provider: "alipay",
        clientOrderId: "c-1",
      });
      assert.equal(again.orderId, first.orderId);
      assert.equal(again.amount, 500);
      assert.equal(again.repeated, true);
      const other = await orders.create("dave", {
        amount: 500,
        provider: "wechat",
        clientOrderId: "c-1",
      });
      assert.notEqual(other.orderId, first.orderId, "client ids are per user");

      const raced = await Promise.all(
        Array.from({ length: 10 }, () =>
          orders.create("carol", { amount: 700, provider: "wechat", clientOrderId: "c-2" }),
        ),
      );
      assert.equal(new Set(raced.map((o) => o.orderId)).size, 1);
      assert.equal(raced.filter((o) => !o.repeated).length, 1);
    });

    it("keeps ids unique across two Orders (two workers) creating at the same millisecond", async () => {
      const frozen = now;
      const workers = [1, 2].map(
        () => new Orders(database, new Wallets(database), SETTINGS, () => frozen),
      );
      const created = await Promise.all(
        workers.flatMap((worker, w) =>
          Array.from({ length: 500 }, (_, i) =>
            worker.create(`ids-${w}-${i % 7}`, { amount: 100, provider: "wechat" }),
          ),
        ),
      );
      assert.equal(new Set(created.map((o) => o.orderId)).size, 1000);
      const stored = await database.db
        .selectFrom("guess_orders")
        .select((eb) => eb.fn.countAll<number | string>().as("n"))
        .where("uid", "like", "ids-%")
        .executeTakeFirstOrThrow();
      assert.equal(Number(stored.n), 1000);
    });

    it("credits a verified payment once, also when two deliveries race", async () => {
      const order = await newOrder(1234);
      const payment = paymentOf(order);
      const [a, b] = await Promise.all([
        orders.applyPayment(payment),
        orders.applyPayment(payment),
      ]);
      assert.deepEqual([a.outcome, b.outcome].sort(), ["credited", "repeated"]);
      for (const applied of [a, b]) {
        assert.equal(applied.orderId, order.orderId);
        assert.equal(applied.uid, order.uid);
        assert.equal(applied.balance, 1234);
      }
      const later = await orders.applyPayment(payment);
      assert.equal(later.outcome, "repeated");
      assert.equal(await wallets.balance(order.uid), 1234);
      const ledger = await ledgerOf(order.uid);
      assert.equal(ledger.length, 1);
      assert.equal(ledger[0]!.cause, `topup:${order.orderId}`);
      assert.equal(ledger[0]!.kind, "topup");
      const view = await orders.get(order.uid, order.orderId);
      assert.equal(view?.status, "paid");
      assert.equal(view?.paidAt, new Date(now).toISOString());
      assert.equal((await orderRow(order.orderId)).transaction_id, payment.transactionId);
    });

    it("adds to a wallet that already holds money", async () => {
      const first = await newOrder(1000, "alipay");
      await orders.applyPayment(paymentOf(first));
      const second = await newOrder(250, "alipay", first.uid);
      const applied = await orders.applyPayment(paymentOf(second));
      assert.equal(applied.balance, 1250);
      assert.equal((await ledgerOf(first.uid)).length, 2);
    });

    it("credits nothing for an amount or currency that is not the order's", async () => {
      const order = await newOrder(1234);
      for (const wrong of [{ amount: 1233 }, { amount: 123_400 }, { currency: "USD" }]) {
        await assert.rejects(
          orders.applyPayment(paymentOf(order, wrong)),
          code("E_PAY_AMOUNT_MISMATCH"),
          JSON.stringify(wrong),
        );
      }
      await assertNothingCredited(order);
    });

    it("credits nothing for an unknown order", async () => {
      const order = await newOrder();
      for (const orderId of ["o-nope", `${order.orderId}x`, "x".repeat(128)]) {
        await assert.rejects(
          orders.applyPayment(paymentOf(order, { orderId })),
          code("E_NOT_FOUND"),
        );
      }
      await assertNothingCredited(order);
    });

    it("ignores a notification of an unpaid trade: nothing changes", async () => {
      const order = await newOrder();
      const applied = await orders.applyPayment(paymentOf(order, { paid: false, amount: 1 }));
      assert.deepEqual(applied, {
        outcome: "ignored",
        orderId: order.orderId,
        uid: order.uid,
        balance: 0,
      });
      await assertNothingCredited(order);
    });

    it("credits nothing for a transaction that paid another order, or another transaction", async () => {
      const paid = await newOrder(800);
      const payment = paymentOf(paid);
      await orders.applyPayment(payment);
      // The same transaction claimed for another order of the same amount.
      const other = await newOrder(800);
      await assert.rejects(
        orders.applyPayment(paymentOf(other, { transactionId: payment.transactionId })),
        code("E_PAY_CONFLICT"),
      );
      await assertNothingCredited(other);
      // A second transaction for an order already paid.
      await assert.rejects(
        orders.applyPayment(paymentOf(paid, { transactionId: "tx-second" })),
        code("E_PAY_CONFLICT"),
      );
      assert.equal(await wallets.balance(paid.uid), 800);
      assert.equal((await ledgerOf(paid.uid)).length, 1);
      // A payment through another provider than the order's.
      await assert.rejects(
        orders.applyPayment(paymentOf(other, { provider: "alipay" })),
        code("E_PAY_CONFLICT"),
      );
      await assertNothingCredited(other);
    });

    it("lets one of two orders racing for one transaction have it", async () => {
      const [a, b] = [await newOrder(600), await newOrder(600)];
      const results = await Promise.allSettled([
        orders.applyPayment(paymentOf(a, { transactionId: "tx-contested" })),
        orders.applyPayment(paymentOf(b, { transactionId: "tx-contested" })),
      ]);
      const credited = results.filter((r) => r.status === "fulfilled");
      assert.equal(credited.length, 1, JSON.stringify(results));
      const refused = results.find((r) => r.status === "rejected");
      code("E_PAY_CONFLICT")(refused?.reason);
      const balances = [await wallets.balance(a.uid), await wallets.balance(b.uid)];
      assert.deepEqual(balances.sort(), [0, 600]);
    });

    it("still credits an order past its expiry, closed or not: the money arrived", async () => {
      const open = await newOrder(300);
      const closing = await newOrder(400);
      now += SETTINGS.orderTtlMs;
      assert.ok((await orders.closeExpired()) >= 2);
      assert.equal((await orders.get(closing.uid, closing.orderId))?.status, "closed");
      for (const order of [open, closing]) {
        const applied = await orders.applyPayment(paymentOf(order));
        assert.equal(applied.outcome, "credited");
        assert.equal(await wallets.balance(order.uid), order.amount);
      }
      now += 1000;
    });

    it("lists a user's orders newest first, a page at a time", async () => {
      const uid = `lister-${++n}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        now += 1000;
        ids.push((await orders.create(uid, { amount: 100 + i, provider: "wechat" })).orderId);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await orders.list(uid, { cursor, limit: 2 });
        seen.push(...page.orders.map((o) => o.orderId));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(seen, ids.reverse());
      await assert.rejects(
        orders.list(uid, { cursor: "bogus", limit: 2 }),
        code("E_INVALID_REQUEST"),
      );
    });

    it("keeps every balance equal to its ledger", async () => {
      const result = await reconcile(database.db);
      assert.deepEqual(result.mismatches, []);
      assert.ok(result.entries > 0);
    });
  });
}
