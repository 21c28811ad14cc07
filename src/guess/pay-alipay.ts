/**
 * Alipay asynchronous notification ("异步通知", a form-encoded POST), verified
 * and normalized the documented way (rsaCheckV1 in Alipay's SDKs):
 *
 * 1. sign_type must be RSA2 (SHA256withRSA); RSA (SHA1) is refused.
 * 2. Every parameter but `sign` and `sign_type`, empty values left out, sorted
 *    by name, joined as `name=value` with `&`, using the decoded values: that
 *    text, as UTF-8, is what `sign` (base64) signs with Alipay's key. The app
 *    must use charset utf-8 (the SDKs' default): a GBK notification with
 *    Chinese text would not verify.
 * 3. app_id is ours, and notify_time (Beijing time, the time of this attempt:
 *    Alipay re-signs each retry) is within the replay window.
 *
 * total_amount is yuan with up to two decimals, turned into fen with string
 * arithmetic. A partial refund is notified as TRADE_SUCCESS again (with
 * refund_fee): crediting by order id once, as the wallet does, covers it.
 */
import {
  MAX_NOTIFY_BODY_BYTES,
  MAX_NOTIFY_PARAMS,
  PRINTABLE_ID,
  checkReplayWindow,
  checkRsaSha256,
  invalidPayField,
  rsaPublicKey,
  signatureError,
  tooLarge,
  type PublicKeyInput,
  type VerifiedPayment,
} from "./pay-shared.js";

export interface AlipayNotificationInput {
  /** The form fields, already decoded from application/x-www-form-urlencoded. */
  params: Readonly<Record<string, string>>;
  alipayPublicKey: PublicKeyInput;
  /** Our app's id: a notification for another app is refused. */
  appId: string;
  now: number;
  replayWindowMs: number;
}

const PAID_STATES: ReadonlySet<string> = new Set(["TRADE_SUCCESS", "TRADE_FINISHED"]);
const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
/** Up to 10 integer digits (Alipay's cap is 100 000 000 yuan), no sign, exponent or stray dot. */
const YUAN = /^(0|[1-9][0-9]{0,9})(?:\.([0-9]{1,2}))?$/;
const BEIJING_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** The notification's payment; throws E_PAY_SIGNATURE, E_PAY_REPLAY, E_INVALID_REQUEST or E_REQUEST_TOO_LARGE. */
export function verifyAlipayNotification(input: AlipayNotificationInput): VerifiedPayment {
  const params = checkedParams(input.params);

  const signType = params.get("sign_type");
  if (signType !== "RSA2") {
    throw signatureError(
      signType === undefined ? "sign_type is missing" : "sign_type must be RSA2 (SHA256withRSA)",
    );
  }
  const signed = [...params.keys()]
    .filter((name) => name !== "sign" && name !== "sign_type" && params.get(name) !== "")
    // Code-unit order, as Java's String.compareTo: ASCII order for Alipay's names.
    .sort()
    .map((name) => `${name}=${params.get(name) ?? ""}`)
    .join("&");
  checkRsaSha256(
    signed,
    params.get("sign"),
    rsaPublicKey(input.alipayPublicKey, "the Alipay public key"),
    "sign",
  );

  const appId = params.get("app_id");
  if (appId !== input.appId) {
    throw signatureError(
      appId === undefined
        ? "app_id is missing"
        : `the notification is for app_id ${JSON.stringify(appId)}, not ours`,
    );
  }
  const notifiedAt = beijingTimeToMs(params.get("notify_time") ?? "");
  if (notifiedAt === null) {
    throw invalidPayField("notify_time", "must be yyyy-MM-dd HH:mm:ss (Beijing time)");
  }
  checkReplayWindow(notifiedAt, input.now, input.replayWindowMs, "notify_time");

  const amount = yuanToFen(params.get("total_amount") ?? "");
  if (amount === null) {
    throw invalidPayField("total_amount", "must be yuan with at most 2 decimals, such as 12.34");
  }
  const tradeStatus = params.get("trade_status");
  if (tradeStatus === undefined || tradeStatus === "") {
    throw invalidPayField("trade_status", "is missing");
  }
  return {
    provider: "alipay",
    orderId: requiredId(params, "out_trade_no"),
    transactionId: requiredId(params, "trade_no"),
    amount,
    currency: "CNY",
    paid: PAID_STATES.has(tradeStatus),
    notifiedAt,
  };
}

/** Yuan as Alipay writes it ("12.34", "12.3", "12") in integer fen, or null for anything else. */
export function yuanToFen(text: string): number | null {
  const match = YUAN.exec(text);
  if (match === null) return null;
  // Whole digit strings only: exact in a double, unlike 12.34 * 100.
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8, no daylight saving) as ms since the epoch, or null. */
export function beijingTimeToMs(text: string): number | null {
  const match = BEIJING_TIME.exec(text);
  if (match === null) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (hour > 23 || minute > 59 || second > 59) return null;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(utc);
  // Date.UTC rolls 2024-02-30 over into March: a date that does not exist is not one.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1) return null;
  if (date.getUTCDate() !== day) return null;
  return utc - BEIJING_OFFSET_MS;
}

/** The params as a Map after the limits, each given once as text. */
function checkedParams(params: AlipayNotificationInput["params"]): Map<string, string> {
  const names = Object.keys(params);
  if (names.length > MAX_NOTIFY_PARAMS) {
    throw tooLarge("the Alipay notification's parameter count", MAX_NOTIFY_PARAMS);
  }
  const checked = new Map<string, string>();
  let size = 0;
  for (const name of names) {
    const value: unknown = params[name];
    // A form parser gives an array for a name sent twice: which one was signed?
    if (typeof value !== "string") throw invalidPayField(name, "must be given once, as text");
    size += name.length + value.length + 2;
    checked.set(name, value);
  }
  if (size > MAX_NOTIFY_BODY_BYTES) {
    throw tooLarge("the Alipay notification's parameters", MAX_NOTIFY_BODY_BYTES);
  }
  return checked;
}

function requiredId(params: Map<string, string>, name: string): string {
  const value = params.get(name);
  if (value === undefined || !PRINTABLE_ID.test(value)) {
    throw invalidPayField(name, "must be 1–128 printable ASCII characters");
  }
  return value;
}
