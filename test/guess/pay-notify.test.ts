/**
 * Payment callbacks as the providers send them: notifications built and
 * signed here exactly as WeChat Pay API v3 and Alipay document it (RSA keys
 * made for the test, the resource sealed with AES-256-GCM), then each way a
 * forged, mangled, stale or foreign one must fail — asserting the code.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  beijingTimeToMs,
  verifyAlipayNotification,
  verifyWechatNotification,
  yuanToFen,
  type AlipayNotificationInput,
  type WechatNotificationInput,
} from "../../src/guess/pay-notify.js";
import {
  ALIPAY_PARAMS as alipayParams,
  API_V3_KEY,
  APP_ID,
  MCH_ID,
  WECHAT_SERIAL as SERIAL,
  WECHAT_TRANSACTION as transaction,
  alipay,
  alipayNotification,
  stranger,
  wechatNotification as signedWechatNotification,
  wechatPlatform,
  type WechatOptions,
} from "./pay-signers.js";

const WINDOW_MS = 5 * 60 * 1000;
const NOW = Date.UTC(2024, 2, 1, 4, 0, 0); // 2024-03-01 12:00:00 in Beijing

/** The error's code, for assert.throws: `code("E_X")` fails the test with the actual code otherwise. */
function code(expected: string, field?: string) {
  return (err: unknown): boolean => {
    const { code: actual, details } = err as { code?: string; details?: { field?: string } };
    assert.equal(actual, expected, `expected ${expected}, got ${String(actual)}: ${String(err)}`);
    if (field !== undefined) assert.equal(details?.field, field);
    return true;
  };
}

// --- WeChat Pay API v3 ----------------------------------------------------------

/** Signed at NOW unless a test says otherwise (pay-signers.ts signs as WeChat Pay does). */
const wechatNotification = (options: WechatOptions = {}) =>
  signedWechatNotification({ timestamp: Math.floor(NOW / 1000), ...options });

function parseBody(rawBody: string): { resource: Record<string, string | undefined> } {
  return JSON.parse(rawBody) as { resource: Record<string, string | undefined> };
}

function wechatInput(
  notification: Pick<WechatNotificationInput, "headers" | "rawBody">,
  overrides: Partial<WechatNotificationInput> = {},
): WechatNotificationInput {
  return {
    ...notification,
    platformCertificates: new Map([[SERIAL, wechatPlatform.publicKey]]),
    apiV3Key: API_V3_KEY,
    mchId: MCH_ID,
    now: NOW,
    replayWindowMs: WINDOW_MS,
    ...overrides,
  };
}

describe("WeChat Pay notifications", () => {
  it("verifies a genuine notification and normalizes its transaction", () => {
    assert.deepEqual(verifyWechatNotification(wechatInput(wechatNotification())), {
      provider: "wechat",
      orderId: "topup-alice-0001",
      transactionId: "1217752501201407033233368018",
      amount: 1234,
      currency: "CNY",
      paid: true,
      notifiedAt: Math.floor(NOW / 1000) * 1000,
    });
  });

  it("takes the platform key as PEM, an empty or absent associated_data, and any trade_state", () => {
    const pem = wechatPlatform.publicKey.export({ type: "spki", format: "pem" }).toString();
    const certificates = new Map([[SERIAL, pem]]);
    const empty = wechatInput(wechatNotification({ associatedData: "" }), {
      platformCertificates: certificates,
    });
    assert.equal(verifyWechatNotification(empty).amount, 1234);
    const absent = wechatNotification({ associatedData: null });
    assert.equal(parseBody(absent.rawBody).resource.associated_data, undefined);
    assert.equal(verifyWechatNotification(wechatInput(absent)).paid, true);
    const closed = wechatNotification({ tx: { ...transaction, trade_state: "CLOSED" } });
    assert.equal(verifyWechatNotification(wechatInput(closed)).paid, false);
  });

  it("refuses a body changed after signing", () => {
    const genuine = wechatNotification();
    const tampered = { ...genuine, rawBody: genuine.rawBody.replace("EV-", "EX-") };
    assert.throws(() => verifyWechatNotification(wechatInput(tampered)), code("E_PAY_SIGNATURE"));
    // One byte more (a trailing newline) is a different signed message too.
    const padded = { ...genuine, rawBody: `${genuine.rawBody}\n` };
    assert.throws(() => verifyWechatNotification(wechatInput(padded)), code("E_PAY_SIGNATURE"));
  });

  it("refuses a signature made with another key, under a known serial", () => {
    const forged = wechatNotification({ signer: stranger.privateKey });
    assert.throws(() => verifyWechatNotification(wechatInput(forged)), code("E_PAY_SIGNATURE"));
  });

  it("refuses an unknown serial, and missing or malformed signature headers", () => {
    const genuine = wechatNotification();
    const unknown = { ...genuine, headers: { ...genuine.headers, "wechatpay-serial": "ABC123" } };
    assert.throws(
      () => verifyWechatNotification(wechatInput(unknown)),
      (err: Error) => code("E_PAY_SIGNATURE")(err) && /ABC123/.test(err.message),
    );
    for (const name of [
      "wechatpay-timestamp",
      "wechatpay-nonce",
      "wechatpay-signature",
      "wechatpay-serial",
    ]) {
      const without = { ...genuine, headers: { ...genuine.headers, [name]: undefined } };
      assert.throws(
        () => verifyWechatNotification(wechatInput(without)),
        (err: Error) => code("E_PAY_SIGNATURE")(err) && err.message.includes(name),
        name,
      );
    }
    const broken: Record<string, string> = {
      "wechatpay-timestamp": "1709265600.5",
      "wechatpay-nonce": "two\nlines",
      "wechatpay-signature": "not base64!",
    };
    for (const [name, value] of Object.entries(broken)) {
      const bad = { ...genuine, headers: { ...genuine.headers, [name]: value } };
      assert.throws(
        () => verifyWechatNotification(wechatInput(bad)),
        code("E_PAY_SIGNATURE"),
        name,
      );
    }
  });

  it("refuses a resource sealed with another APIv3 key (GCM authentication fails)", () => {
    const other = wechatNotification({ apiV3Key: "vutsrqponmlkjihgfedcba9876543210" });
    assert.throws(
      () => verifyWechatNotification(wechatInput(other)),
      (err: Error) => code("E_PAY_SIGNATURE")(err) && /decrypt/.test(err.message),
    );
    // The same with the key we hold configured wrong.
    const genuine = wechatInput(wechatNotification(), {
      apiV3Key: "vutsrqponmlkjihgfedcba9876543210",
    });
    assert.throws(() => verifyWechatNotification(genuine), code("E_PAY_SIGNATURE"));
  });

  it("refuses a timestamp outside the replay window, past or future, and takes one just inside", () => {
    const seconds = Math.floor(NOW / 1000);
    for (const timestamp of [seconds - 301, seconds + 301, 0]) {
      const stale = wechatNotification({ timestamp });
      assert.throws(() => verifyWechatNotification(wechatInput(stale)), code("E_PAY_REPLAY"));
    }
    for (const timestamp of [seconds - 300, seconds + 300]) {
      const fresh = wechatNotification({ timestamp });
      assert.equal(verifyWechatNotification(wechatInput(fresh)).notifiedAt, timestamp * 1000);
    }
  });

  it("refuses another merchant's transaction", () => {
    const foreign = wechatNotification({ tx: { ...transaction, mchid: "1900000109" } });
    assert.throws(() => verifyWechatNotification(wechatInput(foreign)), code("E_PAY_SIGNATURE"));
    // Without mchId configured the check is the caller's.
    const input = wechatInput(foreign, { mchId: undefined });
    assert.equal(verifyWechatNotification(input).orderId, "topup-alice-0001");
  });

  it("names the field of a signed body of the wrong shape", () => {
    const notJson = wechatNotification({ rawBody: "<xml>v2</xml>" });
    assert.throws(
      () => verifyWechatNotification(wechatInput(notJson)),
      code("E_INVALID_REQUEST", "body"),
    );
    const fenAsText = wechatNotification({
      tx: { ...transaction, amount: { ...transaction.amount, total: "1234" } },
    });
    assert.throws(
      () => verifyWechatNotification(wechatInput(fenAsText)),
      code("E_INVALID_REQUEST", "transaction.amount.total"),
    );
    const fractional = wechatNotification({
      tx: { ...transaction, amount: { ...transaction.amount, total: 12.34 } },
    });
    assert.throws(
      () => verifyWechatNotification(wechatInput(fractional)),
      code("E_INVALID_REQUEST", "transaction.amount.total"),
    );
    const refund = parseBody(wechatNotification().rawBody);
    refund.resource.original_type = "refund";
    const signedRefund = wechatNotification({ rawBody: JSON.stringify(refund) });
    assert.throws(
      () => verifyWechatNotification(wechatInput(signedRefund)),
      code("E_INVALID_REQUEST", "resource.original_type"),
    );
  });

  it("refuses a body over 64 KiB before any crypto", () => {
    const huge = { headers: {}, rawBody: `{"pad":"${"x".repeat(64 * 1024)}"}` };
    const input = wechatInput(huge, { platformCertificates: new Map() });
    assert.throws(() => verifyWechatNotification(input), code("E_REQUEST_TOO_LARGE"));
  });

  it("says E_CONFIG for an APIv3 key that is not 32 bytes", () => {
    const input = wechatInput(wechatNotification(), { apiV3Key: "short" });
    assert.throws(() => verifyWechatNotification(input), code("E_CONFIG"));
  });
});

// --- Alipay ----------------------------------------------------------------------

function alipayInput(
  params: Record<string, string>,
  overrides: Partial<AlipayNotificationInput> = {},
): AlipayNotificationInput {
  return {
    params,
    alipayPublicKey: alipay.publicKey,
    appId: APP_ID,
    now: NOW,
    replayWindowMs: WINDOW_MS,
    ...overrides,
  };
}

describe("Alipay notifications", () => {
  it("verifies a genuine notification and normalizes it (Chinese text signed as UTF-8)", () => {
    assert.deepEqual(verifyAlipayNotification(alipayInput(alipayNotification())), {
      provider: "alipay",
      orderId: "topup-bob-0002",
      transactionId: "2016071921001003030200089909",
      amount: 1234,
      currency: "CNY",
      paid: true,
      notifiedAt: NOW, // 12:00:00 Beijing is 04:00:00 UTC, whatever the machine's TZ
    });
  });

  it("takes the key as PEM, leaves empty values out of the signed text, and reads trade_status", () => {
    const pem = alipay.publicKey.export({ type: "spki", format: "pem" }).toString();
    const withEmpty = alipayNotification({ ...alipayParams, passback_params: "" });
    const input = alipayInput(withEmpty, { alipayPublicKey: pem });
    assert.equal(verifyAlipayNotification(input).amount, 1234);
    const finished = alipayNotification({ ...alipayParams, trade_status: "TRADE_FINISHED" });
    assert.equal(verifyAlipayNotification(alipayInput(finished)).paid, true);
    const waiting = alipayNotification({ ...alipayParams, trade_status: "WAIT_BUYER_PAY" });
    assert.equal(verifyAlipayNotification(alipayInput(waiting)).paid, false);
  });

  it("refuses a parameter changed or added after signing", () => {
    const genuine = alipayNotification();
    const changes: Record<string, string>[] = [
      { total_amount: "1234.00" },
      { out_trade_no: "topup-eve-0001" },
      { x: "1" },
    ];
    for (const change of changes) {
      const tampered = { ...genuine, ...change };
      assert.throws(() => verifyAlipayNotification(alipayInput(tampered)), code("E_PAY_SIGNATURE"));
    }
  });

  it("refuses a signature made with another key, or none", () => {
    const forged = alipayNotification(alipayParams, stranger.privateKey);
    assert.throws(() => verifyAlipayNotification(alipayInput(forged)), code("E_PAY_SIGNATURE"));
    const unsigned: Record<string, string> = { ...alipayNotification() };
    delete unsigned.sign;
    assert.throws(() => verifyAlipayNotification(alipayInput(unsigned)), code("E_PAY_SIGNATURE"));
    const junk = { ...alipayNotification(), sign: "%%%" };
    assert.throws(() => verifyAlipayNotification(alipayInput(junk)), code("E_PAY_SIGNATURE"));
  });

  it("refuses sign_type RSA (SHA1) or none, even when the signature verifies", () => {
    const rsa1 = alipayNotification(alipayParams, alipay.privateKey, "RSA");
    assert.throws(() => verifyAlipayNotification(alipayInput(rsa1)), code("E_PAY_SIGNATURE"));
    const none: Record<string, string> = { ...alipayNotification() };
    delete none.sign_type;
    assert.throws(() => verifyAlipayNotification(alipayInput(none)), code("E_PAY_SIGNATURE"));
  });

  it("refuses a genuine notification for another app", () => {
    const genuine = alipayNotification();
    assert.throws(
      () => verifyAlipayNotification(alipayInput(genuine, { appId: "2021000000000001" })),
      code("E_PAY_SIGNATURE"),
    );
  });

  it("refuses notify_time outside the replay window, past or future (Beijing time, exactly)", () => {
    for (const notifyTime of [
      "2024-03-01 11:54:59",
      "2024-03-01 12:05:01",
      "2024-03-01 04:00:00",
    ]) {
      const stale = alipayNotification({ ...alipayParams, notify_time: notifyTime });
      assert.throws(
        () => verifyAlipayNotification(alipayInput(stale)),
        code("E_PAY_REPLAY"),
        notifyTime,
      );
    }
    for (const notifyTime of ["2024-03-01 11:55:00", "2024-03-01 12:05:00"]) {
      const fresh = alipayNotification({ ...alipayParams, notify_time: notifyTime });
      assert.doesNotThrow(() => verifyAlipayNotification(alipayInput(fresh)), notifyTime);
    }
    const malformed = alipayNotification({ ...alipayParams, notify_time: "2024-02-30 12:00:00" });
    assert.throws(
      () => verifyAlipayNotification(alipayInput(malformed)),
      code("E_INVALID_REQUEST", "notify_time"),
    );
  });

  it("refuses a total_amount that is not yuan with at most 2 decimals", () => {
    for (const amount of [
      "12.345",
      "-1",
      "1e3",
      "12.",
      ".5",
      "012.00",
      " 12",
      "12,34",
      "0x10",
      "１２",
      "",
    ]) {
      const bad = alipayNotification({ ...alipayParams, total_amount: amount });
      assert.throws(
        () => verifyAlipayNotification(alipayInput(bad)),
        code("E_INVALID_REQUEST", "total_amount"),
        JSON.stringify(amount),
      );
    }
  });

  it("refuses more than 100 parameters before any crypto, and a name given twice", () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 101; i++) many[`p${i}`] = "1";
    const input = alipayInput(many, { alipayPublicKey: "not a key" });
    assert.throws(() => verifyAlipayNotification(input), code("E_REQUEST_TOO_LARGE"));
    const twice = { ...alipayNotification(), trade_status: ["TRADE_SUCCESS", "TRADE_CLOSED"] };
    assert.throws(
      () => verifyAlipayNotification(alipayInput(twice as unknown as Record<string, string>)),
      code("E_INVALID_REQUEST", "trade_status"),
    );
  });
});

describe("yuan and Beijing time", () => {
  it("turns yuan into fen exactly, with no floating point", () => {
    const cases: [string, number][] = [
      ["12.34", 1234],
      ["12.3", 1230],
      ["12", 1200],
      ["0.01", 1],
      ["0", 0],
      ["0.29", 29], // 0.29 * 100 is 28.999999999999996 in floating point
      ["100000000.00", 10_000_000_000],
    ];
    for (const [text, fen] of cases) assert.equal(yuanToFen(text), fen, text);
    assert.equal(yuanToFen("12345678901"), null);
  });

  it("reads yyyy-MM-dd HH:mm:ss as UTC+8 and refuses dates that do not exist", () => {
    assert.equal(beijingTimeToMs("2024-01-01 00:00:00"), Date.UTC(2023, 11, 31, 16, 0, 0));
    assert.equal(beijingTimeToMs("2024-02-29 08:00:00"), Date.UTC(2024, 1, 29, 0, 0, 0));
    for (const text of [
      "2023-02-29 08:00:00",
      "2024-13-01 00:00:00",
      "2024-01-01 24:00:00",
      "2024-01-01T00:00:00",
    ]) {
      assert.equal(beijingTimeToMs(text), null, text);
    }
  });
});
