/**
 * What the payment-callback verifiers (pay-wechat.ts, pay-alipay.ts) share:
 * the one normalized payment they both produce, the limits checked before any
 * crypto, and the checks both make — a strict base64 SHA256withRSA signature
 * and a replay window around the server clock.
 *
 * Codes: E_PAY_SIGNATURE for anything that says "not provably from the
 * provider, or not for us"; E_PAY_REPLAY for a genuine notification sent too
 * long ago (or ahead of our clock); E_INVALID_REQUEST naming the field for a
 * signed body of the wrong shape; E_CONFIG for our own keys being unusable.
 */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { GamedockError } from "../core/index.js";

export type PaymentProvider = "wechat" | "alipay";

/** A provider's callback once verified, in one shape for whatever credits the order. */
export interface VerifiedPayment {
  provider: PaymentProvider;
  /** Our order id as we gave it to the provider (out_trade_no). */
  orderId: string;
  /** The provider's id of the transaction. */
  transactionId: string;
  /** Integer minor units (fen for CNY). */
  amount: number;
  currency: string;
  /** Whether the money arrived: a notification may also report an unpaid or closed trade. */
  paid: boolean;
  /** When the provider sent this notification (ms since the epoch): the time the replay window checked. */
  notifiedAt: number;
}

/** A provider's RSA public key: a KeyObject, or PEM (a public key or an X.509 certificate). */
export type PublicKeyInput = KeyObject | string;

/** Real notifications are a few KiB; the limits keep a hostile caller from making us hash megabytes. */
export const MAX_NOTIFY_BODY_BYTES = 64 * 1024;
export const MAX_NOTIFY_PARAMS = 100;

/** RSA-2048 signatures are 344 base64 characters, RSA-4096 684: anything longer is not one. */
const MAX_SIGNATURE_CHARS = 1024;
/** Canonical base64 only: Buffer.from skips junk, so lenient decoding lets many texts mean one value. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Ids we echo in messages and hand on (order ids, serials, nonces): printable ASCII, no spaces. */
export const PRINTABLE_ID = /^[\x21-\x7e]{1,128}$/;

export function signatureError(message: string, details?: Record<string, unknown>): GamedockError {
  return new GamedockError("E_PAY_SIGNATURE", message, details);
}

export function invalidPayField(field: string, message: string): GamedockError {
  return new GamedockError(
    "E_INVALID_REQUEST",
    `invalid field ${JSON.stringify(field)}: ${message}`,
    {
      field,
    },
  );
}

export function tooLarge(what: string, limit: number): GamedockError {
  return new GamedockError("E_REQUEST_TOO_LARGE", `${what} is larger than ${limit}`, { limit });
}

/** `text` as bytes if it is canonical base64, else null. */
export function strictBase64(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, "base64") : null;
}

/** Throws E_PAY_SIGNATURE unless `signature` (base64) is `key`'s SHA256withRSA (PKCS#1 v1.5) of `message`. */
export function checkRsaSha256(
  message: string,
  signature: string | undefined,
  key: KeyObject,
  what: string,
): void {
  if (signature === undefined || signature === "") throw signatureError(`${what} is missing`);
  const bytes = signature.length <= MAX_SIGNATURE_CHARS ? strictBase64(signature) : null;
  if (bytes === null) throw signatureError(`${what} is not a base64 RSA signature`);
  let valid: boolean;
  try {
    // An RSA key's default padding in crypto.verify is PKCS#1 v1.5, what both providers use.
    valid = verify("sha256", Buffer.from(message, "utf8"), key, bytes);
  } catch {
    valid = false;
  }
  if (!valid) throw signatureError(`${what} does not verify with the provider's public key`);
}

/** Our configured provider key as a KeyObject; E_CONFIG (never the key itself) when it is not an RSA key. */
export function rsaPublicKey(key: PublicKeyInput, what: string): KeyObject {
  let keyObject: KeyObject;
  try {
    // A private KeyObject would verify too, but only the public half is needed.
    keyObject = typeof key === "string" || key.type === "private" ? createPublicKey(key) : key;
  } catch {
    throw new GamedockError("E_CONFIG", `${what} is not a PEM public key or certificate`);
  }
  if (keyObject.type !== "public" || keyObject.asymmetricKeyType !== "rsa") {
    throw new GamedockError("E_CONFIG", `${what} is not an RSA public key`);
  }
  return keyObject;
}

/**
 * Throws E_PAY_REPLAY unless `sentAt` is within `windowMs` of `now`, either way:
 * a captured genuine notification replayed later, or one stamped in the future
 * to stay "fresh", is refused. Both providers re-sign each retry with the time
 * of that attempt, so a window of minutes does not lose their retries.
 */
export function checkReplayWindow(
  sentAt: number,
  now: number,
  windowMs: number,
  field: string,
): void {
  if (!Number.isFinite(now) || !Number.isFinite(windowMs) || windowMs < 0) {
    // NaN would make every comparison false and let everything through.
    throw new GamedockError(
      "E_CONFIG",
      "the payment replay window needs a finite now and windowMs",
    );
  }
  const skew = now - sentAt;
  if (Math.abs(skew) > windowMs) {
    const seconds = Math.round(Math.abs(skew) / 1000);
    throw new GamedockError(
      "E_PAY_REPLAY",
      `${field} is ${seconds} s ${skew > 0 ? "behind" : "ahead of"} the server clock; ` +
        `the window is ±${Math.round(windowMs / 1000)} s`,
      { field, sentAt, now },
    );
  }
}
