/**
 * The payment routes over real HTTP, on the server's own fastify setup
 * (createHttpServer) with API tokens configured, over SQLite: notifications
 * signed as WeChat Pay and Alipay sign them credit an order once and are
 * answered in each provider's protocol (a repeat is answered success too, so
 * the provider stops retrying); a forged, stale, unknown-order or wrong-amount
 * one is answered a failure, credits nothing and is logged with its code but
 * never its body or our keys. Users create orders with their realtime JWT;
 * none of these routes needs an API token, every other route still does.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { DEFAULTS } from "../../src/core/index.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { Wallets, reconcile } from "../../src/guess/index.js";
import { Orders } from "../../src/guess/orders.js";
import type { PaymentSettings } from "../../src/guess/pay-config.js";
import { PAY_ERROR_HEADER, registerPaymentRoutes } from "../../src/guess/pay-routes.js";
import { mintToken, secretAuthenticator } from "../../src/realtime/index.js";
import { closeHttpServer, createHttpServer } from "../../src/server/http.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import {
  ALIPAY_PARAMS,
  API_V3_KEY,
  APP_ID,
  MCH_ID,
  WECHAT_SERIAL,
  WECHAT_TRANSACTION,
  alipay,
  alipayNotification,
  beijingTime,
  pem,
  stranger,
  wechatNotification,
  wechatPlatform,
  type WechatOptions,
} from "./pay-signers.js";

const API_TOKEN = "api-token-for-the-admin";
const JWT_SECRET = new TextEncoder().encode("realtime-secret-of-this-test-0123456789");

const SETTINGS: PaymentSettings = {
  ...DEFAULTS.guess.payments,
  wechat: {
    mchId: MCH_ID,
    apiV3Key: API_V3_KEY,
    platformKeys: { [WECHAT_SERIAL]: pem(wechatPlatform.publicKey) },
  },
  alipay: {
    appId: APP_ID,
    // The bare base64 Alipay's console shows, not PEM.
    publicKey: pem(alipay.publicKey)
      .replace(/-----[A-Z ]+-----/g, "")
      .replace(/\s/g, ""),
  },
};

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

/** Log lines kept in memory, to check what a refusal logs. */
function memoryLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { lines, logger: pino({ level: "info", messageKey: "message" }, sink) };
}

async function startApp(
  settings: PaymentSettings,
  database: Database,
  credited: [string, number, string][],
) {
  const { lines, logger } = memoryLogger();
  const wallets = new Wallets(database);
  const orders = new Orders(database, wallets, settings);
  const app = createHttpServer({ logger, tokens: [API_TOKEN], bodyLimit: 1024 * 1024 });
  await registerPaymentRoutes(app, {
    orders,
    settings,
    authenticator: secretAuthenticator(JWT_SECRET),
    logger,
    onCredited: (uid, balance, orderId) => {
      credited.push([uid, balance, orderId]);
    },
  });
  app.get("/api/v1/other", () => ({ ok: true }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return { app, base, lines, wallets, orders };
}

describe("payment routes over HTTP", () => {
  let testDb: TestDatabase;
  let database: Database;
  let app: FastifyInstance;
  let base: string;
  let lines: string[];
  let wallets: Wallets;
  const credited: [string, number, string][] = [];
  let n = 0;

  async function call(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string | undefined> = {},
  ): Promise<Answer> {
    const sent: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers))
      if (value !== undefined) sent[name] = value;
    const response = await fetch(`${base}${path}`, { method, headers: sent, body });
    return { status: response.status, text: await response.text(), headers: response.headers };
  }
  const userToken = (uid: string) => mintToken(JWT_SECRET, { uid, ttlSeconds: 600 });

  /** A new order through POST /api/v1/guess/orders for a new user. */
  async function newOrder(amount: number, provider: "wechat" | "alipay") {
    const uid = `payer-${++n}`;
    const answer = await call(
      "POST",
      "/api/v1/guess/orders",
      JSON.stringify({ amount, provider }),
      { "content-type": "application/json", authorization: `Bearer ${await userToken(uid)}` },
    );
    assert.equal(answer.status, 201, answer.text);
    const order = JSON.parse(answer.text) as { orderId: string; amount: number };
    return { uid, ...order };
  }

  const wechatFor = (
    order: { orderId: string; amount: number },
    tx: Record<string, unknown> = {},
    options: WechatOptions = {},
  ) =>
    wechatNotification({
      tx: {
        ...WECHAT_TRANSACTION,
        out_trade_no: order.orderId,
        transaction_id: `4200${order.orderId}`,
        amount: { ...WECHAT_TRANSACTION.amount, total: order.amount, payer_total: order.amount },
        ...tx,
      },
      ...options,
    });
  const postWechat = (notification: ReturnType<typeof wechatNotification>) =>
    call("POST", "/api/v1/pay/notify/wechat", notification.rawBody, notification.headers);

  const alipayFor = (
    order: { orderId: string; amount: number },
    params: Record<string, string> = {},
    signer = alipay.privateKey,
  ) => {
    const yuan = (order.amount / 100).toFixed(2);
    return alipayNotification(
      {
        ...ALIPAY_PARAMS,
        out_trade_no: order.orderId,
        trade_no: `2024${order.orderId}`,
        total_amount: yuan,
        receipt_amount: yuan,
        notify_time: beijingTime(Date.now()),
        ...params,
      },
      signer,
    );
  };
  const postAlipay = (params: Record<string, string> | string) =>
    call(
      "POST",
      "/api/v1/pay/notify/alipay",
      typeof params === "string" ? params : new URLSearchParams(params).toString(),
      { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    );

  /** A failed WeChat answer: the status, {"code": "FAIL"}, our code in the header. */
  function assertWechatFail(answer: Answer, status: number, code: string): void {
    assert.equal(answer.status, status, answer.text);
    assert.deepEqual(JSON.parse(answer.text), { code: "FAIL", message: code });
    assert.equal(answer.headers.get(PAY_ERROR_HEADER), code);
  }
  function assertAlipayFail(answer: Answer, status: number, code: string): void {
    assert.equal(answer.status, status, answer.text);
    assert.equal(answer.text, "fail");
    assert.equal(answer.headers.get(PAY_ERROR_HEADER), code);
  }
  async function assertNothingCredited(uid: string): Promise<void> {
    assert.equal(await wallets.balance(uid), 0);
    assert.ok(!credited.some(([who]) => who === uid), "no push for an order not credited");
  }

  before(async () => {
    testDb = await createTestDatabase("sqlite", "pay-routes");
    database = await openDatabase(testDb.config);
    ({ app, base, lines, wallets } = await startApp(SETTINGS, database, credited));
  });
  after(async () => {
    await closeHttpServer(app);
    await database?.close();
    await testDb?.drop();
  });

  describe("WeChat Pay", () => {
    it("credits a genuine notification once and answers a repeat success too", async () => {
      const order = await newOrder(1234, "wechat");
      const first = await postWechat(wechatFor(order));
      assert.equal(first.status, 204, first.text);
      assert.equal(first.text, "");
      assert.equal(await wallets.balance(order.uid), 1234);
      assert.deepEqual(credited.at(-1), [order.uid, 1234, order.orderId]);
      const pushes = credited.length;

      // WeChat retries with a fresh nonce and signature; the order is credited once.
      const again = await postWechat(wechatFor(order));
      assert.equal(again.status, 204, again.text);
      assert.equal(await wallets.balance(order.uid), 1234);
      assert.equal(credited.length, pushes, "a repeat pushes nothing");
    });

    it("answers success to a notification of an unpaid trade and credits nothing", async () => {
      const order = await newOrder(500, "wechat");
      const answer = await postWechat(wechatFor(order, { trade_state: "CLOSED" }));
      assert.equal(answer.status, 204, answer.text);
      await assertNothingCredited(order.uid);
    });

    it("refuses a forged signature, a stale timestamp, an unknown order, a wrong amount", async () => {
      const order = await newOrder(2000, "wechat");
      const forged = wechatFor(order, {}, { signer: stranger.privateKey });
      assertWechatFail(await postWechat(forged), 401, "E_PAY_SIGNATURE");
      const tampered = wechatFor(order);
      tampered.rawBody = tampered.rawBody.replace("EV-", "EX-");
      assertWechatFail(await postWechat(tampered), 401, "E_PAY_SIGNATURE");
      const stale = wechatFor(order, {}, { timestamp: Math.floor(Date.now() / 1000) - 600 });
      assertWechatFail(await postWechat(stale), 401, "E_PAY_REPLAY");
      const unknown = wechatFor({ orderId: "o-unknown", amount: 2000 });
      assertWechatFail(await postWechat(unknown), 404, "E_NOT_FOUND");
      const cheaper = wechatFor({ ...order, amount: 1 });
      assertWechatFail(await postWechat(cheaper), 409, "E_PAY_AMOUNT_MISMATCH");
      await assertNothingCredited(order.uid);

      // Logged with the code, never the body, the signature or our keys.
      const logged = lines.join("");
      assert.match(logged, /"code":"E_PAY_SIGNATURE"/);
      assert.match(logged, /"code":"E_PAY_REPLAY"/);
      assert.match(logged, /"event":"pay-not-credited".*"code":"E_PAY_AMOUNT_MISMATCH"/);
      for (const secret of [
        API_V3_KEY,
        forged.headers["wechatpay-signature"]!,
        (JSON.parse(forged.rawBody) as { resource: { ciphertext: string } }).resource.ciphertext,
      ]) {
        assert.ok(!logged.includes(secret), "a secret or the body reached the log");
      }
      const refusals = lines.filter((line) => line.includes('"pay-refused"'));
      assert.ok(
        refusals.some((line) => line.includes('"level":40')),
        "refusals log at warn",
      );
    });

    it("refuses a body over 64 KiB and a content type providers do not send", async () => {
      const order = await newOrder(300, "wechat");
      const big = wechatFor(order);
      big.rawBody = big.rawBody.replace("{", `{"pad":"${"x".repeat(64 * 1024)}",`);
      assertWechatFail(await postWechat(big), 413, "E_REQUEST_TOO_LARGE");
      const notification = wechatFor(order);
      const wrongType = await call("POST", "/api/v1/pay/notify/wechat", notification.rawBody, {
        ...notification.headers,
        "content-type": "text/plain",
      });
      assertWechatFail(wrongType, 415, "E_CONTENT_TYPE");
      await assertNothingCredited(order.uid);
    });
  });

  describe("Alipay", () => {
    it("credits a genuine notification once, answering `success` both times", async () => {
      const order = await newOrder(1234, "alipay");
      const first = await postAlipay(alipayFor(order));
      assert.equal(first.status, 200);
      assert.equal(first.text, "success");
      assert.equal(await wallets.balance(order.uid), 1234);
      assert.deepEqual(credited.at(-1), [order.uid, 1234, order.orderId]);
      const pushes = credited.length;
      const again = await postAlipay(alipayFor(order));
      assert.equal(again.text, "success");
      assert.equal(await wallets.balance(order.uid), 1234);
      assert.equal(credited.length, pushes);
    });

    it("answers `success` to a trade not paid, crediting nothing", async () => {
      const order = await newOrder(700, "alipay");
      const answer = await postAlipay(alipayFor(order, { trade_status: "WAIT_BUYER_PAY" }));
      assert.equal(answer.text, "success");
      await assertNothingCredited(order.uid);
    });

    it("refuses a forged signature, a stale notify_time, an unknown order, a wrong amount", async () => {
      const order = await newOrder(2500, "alipay");
      assertAlipayFail(
        await postAlipay(alipayFor(order, {}, stranger.privateKey)),
        401,
        "E_PAY_SIGNATURE",
      );
      const changed = { ...alipayFor(order), total_amount: "0.01" };
      assertAlipayFail(await postAlipay(changed), 401, "E_PAY_SIGNATURE");
      const stale = alipayFor(order, { notify_time: beijingTime(Date.now() - 600_000) });
      assertAlipayFail(await postAlipay(stale), 401, "E_PAY_REPLAY");
      const unknown = alipayFor({ orderId: "o-unknown", amount: 2500 });
      assertAlipayFail(await postAlipay(unknown), 404, "E_NOT_FOUND");
      const cheaper = alipayFor({ ...order, amount: 2499 });
      assertAlipayFail(await postAlipay(cheaper), 409, "E_PAY_AMOUNT_MISMATCH");
      // A name given twice: which value was signed?
      const signed = new URLSearchParams(alipayFor(order)).toString();
      assertAlipayFail(
        await postAlipay(`${signed}&trade_status=TRADE_CLOSED`),
        400,
        "E_INVALID_REQUEST",
      );
      await assertNothingCredited(order.uid);
    });

    it("refuses a WeChat order paid through Alipay", async () => {
      const order = await newOrder(900, "wechat");
      assertAlipayFail(await postAlipay(alipayFor(order)), 409, "E_PAY_CONFLICT");
      await assertNothingCredited(order.uid);
    });
  });

  describe("orders with the user's realtime JWT", () => {
    it("creates an order, idempotently by clientOrderId, and shows it to its user only", async () => {
      const token = await userToken("olga");
      const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
      const body = JSON.stringify({ amount: 600, provider: "wechat", clientOrderId: "tap-1" });
      const created = await call("POST", "/api/v1/guess/orders", body, headers);
      assert.equal(created.status, 201, created.text);
      const order = JSON.parse(created.text) as { orderId: string; status: string };
      assert.equal(order.status, "pending");
      const repeat = await call("POST", "/api/v1/guess/orders", body, headers);
      assert.equal(repeat.status, 200);
      assert.equal((JSON.parse(repeat.text) as { orderId: string }).orderId, order.orderId);

      const shown = await call("GET", `/api/v1/guess/orders/${order.orderId}`, undefined, headers);
      assert.equal(shown.status, 200);
      assert.equal((JSON.parse(shown.text) as { orderId: string }).orderId, order.orderId);
      const listed = await call("GET", "/api/v1/guess/orders?limit=10", undefined, headers);
      assert.equal((JSON.parse(listed.text) as { orders: unknown[] }).orders.length, 1);
      const stranger = `Bearer ${await userToken("peter")}`;
      const hidden = await call("GET", `/api/v1/guess/orders/${order.orderId}`, undefined, {
        authorization: stranger,
      });
      assert.equal(hidden.status, 404);
    });

    it("refuses a request without a JWT, with a bad one, or with an API token instead", async () => {
      const body = JSON.stringify({ amount: 600, provider: "wechat" });
      const json = { "content-type": "application/json" };
      const forged = await mintToken(
        new TextEncoder().encode("another-secret-entirely-0123456789"),
        {
          uid: "mallory",
          ttlSeconds: 600,
        },
      );
      for (const authorization of [undefined, `Bearer ${forged}`, `Bearer ${API_TOKEN}`]) {
        const answer = await call("POST", "/api/v1/guess/orders", body, { ...json, authorization });
        assert.equal(answer.status, 401, answer.text);
        assert.equal(
          (JSON.parse(answer.text) as { error: { code: string } }).error.code,
          "E_TOKEN_INVALID",
        );
      }
    });

    it("names the field of a bad body and the limits of a bad amount", async () => {
      const headers = {
        "content-type": "application/json",
        authorization: `Bearer ${await userToken("quinn")}`,
      };
      for (const [body, field] of [
        [{ amount: 50, provider: "wechat" }, "amount"],
        [{ amount: 600, provider: "paypal" }, "provider"],
        [{ amount: 600, provider: "wechat", extra: 1 }, ""],
      ] as const) {
        const answer = await call("POST", "/api/v1/guess/orders", JSON.stringify(body), headers);
        assert.equal(answer.status, 400, answer.text);
        const error = (
          JSON.parse(answer.text) as { error: { code: string; details?: { field?: string } } }
        ).error;
        assert.equal(error.code, "E_INVALID_REQUEST");
        assert.equal(error.details?.field, field);
      }
    });
  });

  describe("API tokens", () => {
    it("are not needed by the payment routes, and still needed by every other route", async () => {
      // Every notification above was sent without an API token.
      const without = await call("GET", "/api/v1/other");
      assert.equal(without.status, 401);
      assert.equal(
        (JSON.parse(without.text) as { error: { code: string } }).error.code,
        "E_UNAUTHORIZED",
      );
      const withToken = await call("GET", "/api/v1/other", undefined, {
        authorization: `Bearer ${API_TOKEN}`,
      });
      assert.equal(withToken.status, 200);
      // A method the notify path does not route is not exempt either.
      const get = await call("GET", "/api/v1/pay/notify/wechat");
      assert.equal(get.status, 401);
    });
  });

  describe("a provider not configured", () => {
    it("answers its callbacks 503 E_PAY_NOT_CONFIGURED and refuses orders for it", async () => {
      const off = await startApp(DEFAULTS.guess.payments, database, []);
      try {
        const order = { orderId: "o-any", amount: 100 };
        const notification = wechatFor(order);
        const wechat = await fetch(`${off.base}/api/v1/pay/notify/wechat`, {
          method: "POST",
          headers: notification.headers as Record<string, string>,
          body: notification.rawBody,
        });
        assert.equal(wechat.status, 503);
        assert.equal(wechat.headers.get(PAY_ERROR_HEADER), "E_PAY_NOT_CONFIGURED");
        assert.equal(((await wechat.json()) as { code: string }).code, "FAIL");
        const alipayAnswer = await fetch(`${off.base}/api/v1/pay/notify/alipay`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(alipayFor(order)).toString(),
        });
        assert.equal(alipayAnswer.status, 503);
        assert.equal(await alipayAnswer.text(), "fail");
        const create = await fetch(`${off.base}/api/v1/guess/orders`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${await userToken("rita")}`,
          },
          body: JSON.stringify({ amount: 600, provider: "alipay" }),
        });
        assert.equal(create.status, 503);
        const error = ((await create.json()) as { error: { code: string } }).error;
        assert.equal(error.code, "E_PAY_NOT_CONFIGURED");
      } finally {
        await closeHttpServer(off.app);
      }
    });
  });

  it("leaves every balance equal to its ledger", async () => {
    assert.deepEqual((await reconcile(database.db)).mismatches, []);
  });
});
