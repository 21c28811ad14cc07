/**
 * WeChat Pay API v3 payment notification ("支付成功回调通知"), verified and
 * normalized. The order of the checks is the documented one:
 *
 * 1. The signature: headers Wechatpay-Timestamp / -Nonce / -Signature /
 *    -Serial; the signed message is `${timestamp}\n${nonce}\n${rawBody}\n`
 *    (the body byte for byte, so it must be the raw text, never re-serialized
 *    JSON), SHA256withRSA by the platform key the serial names (a platform
 *    certificate serial or a "PUB_KEY_ID_…" public key id: the map takes both).
 * 2. The timestamp within the replay window (WeChat's SDKs use 5 minutes).
 * 3. `resource` decrypted with AEAD_AES_256_GCM: key = the APIv3 key, iv =
 *    resource.nonce, AAD = resource.associated_data, and the base64 ciphertext
 *    ends with the 16-byte tag. Only the APIv3 key holder can have sealed it,
 *    so a tag that fails is an E_PAY_SIGNATURE too.
 * 4. The transaction inside, for our merchant id.
 */
import { createDecipheriv } from "node:crypto";
import { z } from "zod";
import { GamedockError, invalidField, isGamedockError, parseClientJson } from "../core/index.js";
import {
  MAX_NOTIFY_BODY_BYTES,
  PRINTABLE_ID,
  checkReplayWindow,
  checkRsaSha256,
  invalidPayField,
  rsaPublicKey,
  signatureError,
  strictBase64,
  tooLarge,
  type PublicKeyInput,
  type VerifiedPayment,
} from "./pay-shared.js";

export interface WechatNotificationInput {
  /** Request headers with lower-cased names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The request body exactly as received (UTF-8 text). */
  rawBody: string;
  /** WeChat Pay platform keys by serial (Wechatpay-Serial). */
  platformCertificates: ReadonlyMap<string, PublicKeyInput>;
  /** The merchant's APIv3 key: 32 ASCII characters. */
  apiV3Key: string;
  /** When given, a transaction for another merchant id is refused. */
  mchId?: string;
  now: number;
  replayWindowMs: number;
}

const GCM_TAG_BYTES = 16;
const GCM_NONCE_BYTES = 12;
const APIV3_KEY_BYTES = 32;

const notificationSchema = z.object({
  id: z.string().min(1).max(64),
  create_time: z.string().min(1).max(64),
  event_type: z.string().min(1).max(64),
  resource_type: z.literal("encrypt-resource"),
  resource: z.object({
    algorithm: z.literal("AEAD_AES_256_GCM"),
    // A refund notification ("refund") has another shape: it is not a payment.
    original_type: z.literal("transaction"),
    ciphertext: z.string().min(1),
    nonce: z.string().min(1),
    associated_data: z.string().max(256).optional(),
  }),
});

const providerId = z.string().regex(PRINTABLE_ID, "1–128 printable ASCII characters");

const transactionSchema = z.object({
  mchid: z.string().min(1).max(64),
  out_trade_no: providerId,
  transaction_id: providerId,
  trade_state: z.string().min(1).max(32),
  success_time: z.string().max(64).optional(),
  amount: z.object({
    total: z.int().min(0),
    payer_total: z.int().min(0).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as CNY"),
  }),
});

type EncryptedResource = z.output<typeof notificationSchema>["resource"];

/** The notification's payment; throws E_PAY_SIGNATURE, E_PAY_REPLAY, E_INVALID_REQUEST or E_REQUEST_TOO_LARGE. */
export function verifyWechatNotification(input: WechatNotificationInput): VerifiedPayment {
  const { headers, rawBody } = input;
  if (Buffer.byteLength(rawBody, "utf8") > MAX_NOTIFY_BODY_BYTES) {
    throw tooLarge("the WeChat Pay notification body", MAX_NOTIFY_BODY_BYTES);
  }

  const timestamp = header(headers, "wechatpay-timestamp");
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    throw signatureError("wechatpay-timestamp is missing or not unix seconds");
  }
  const nonce = header(headers, "wechatpay-nonce");
  // A line break in the nonce would blur the lines of the signed message.
  if (nonce === undefined || !PRINTABLE_ID.test(nonce)) {
    throw signatureError("wechatpay-nonce is missing or not printable ASCII");
  }
  const serial = header(headers, "wechatpay-serial");
  if (serial === undefined || !PRINTABLE_ID.test(serial)) {
    throw signatureError("wechatpay-serial is missing or not printable ASCII");
  }
  const platformKey = input.platformCertificates.get(serial);
  if (platformKey === undefined) {
    throw signatureError(
      `wechatpay-serial ${JSON.stringify(serial)} names no known platform certificate or public key`,
      { serial },
    );
  }
  checkRsaSha256(
    `${timestamp}\n${nonce}\n${rawBody}\n`,
    header(headers, "wechatpay-signature"),
    rsaPublicKey(platformKey, `the WeChat Pay platform key ${JSON.stringify(serial)}`),
    "wechatpay-signature",
  );
  const notifiedAt = Number(timestamp) * 1000;
  checkReplayWindow(notifiedAt, input.now, input.replayWindowMs, "wechatpay-timestamp");

  const notification = notificationSchema.safeParse(parseJson(rawBody, "body"));
  if (!notification.success) throw invalidField(notification.error.issues);
  const plaintext = decryptResource(notification.data.resource, input.apiV3Key);

  const transaction = transactionSchema.safeParse(parseJson(plaintext, "transaction"));
  if (!transaction.success) {
    throw invalidField(
      transaction.error.issues.map((issue) => ({ ...issue, path: ["transaction", ...issue.path] })),
    );
  }
  const tx = transaction.data;
  if (input.mchId !== undefined && tx.mchid !== input.mchId) {
    throw signatureError(`the transaction is for mchid ${JSON.stringify(tx.mchid)}, not ours`, {
      mchid: tx.mchid,
    });
  }
  return {
    provider: "wechat",
    orderId: tx.out_trade_no,
    transactionId: tx.transaction_id,
    amount: tx.amount.total,
    currency: tx.amount.currency,
    paid: tx.trade_state === "SUCCESS",
    notifiedAt,
  };
}

function header(headers: WechatNotificationInput["headers"], name: string): string | undefined {
  const value: unknown = headers[name];
  // A header sent twice may arrive as an array: that is not a value to trust.
  return typeof value === "string" ? value : undefined;
}

/** Strict JSON (no duplicate keys); a syntax error names `field`, as every E_INVALID_REQUEST here does. */
function parseJson(text: string, field: string): unknown {
  try {
    return parseClientJson(text);
  } catch (err) {
    if (isGamedockError(err) && err.code === "E_INVALID_REQUEST" && err.details === undefined) {
      throw new GamedockError("E_INVALID_REQUEST", `${err.message} (in ${field})`, { field });
    }
    throw err;
  }
}

/** The resource's plaintext (RFC 5116 AEAD_AES_256_GCM, the tag after the ciphertext). */
function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  const key = Buffer.from(apiV3Key, "utf8");
  if (key.length !== APIV3_KEY_BYTES) {
    throw new GamedockError(
      "E_CONFIG",
      `the WeChat Pay APIv3 key must be ${APIV3_KEY_BYTES} bytes`,
    );
  }
  const iv = Buffer.from(resource.nonce, "utf8");
  if (iv.length !== GCM_NONCE_BYTES) {
    throw invalidPayField("resource.nonce", `must be ${GCM_NONCE_BYTES} bytes`);
  }
  const sealed = strictBase64(resource.ciphertext);
  if (sealed === null || sealed.length <= GCM_TAG_BYTES) {
    throw invalidPayField(
      "resource.ciphertext",
      "must be base64 of a ciphertext and its 16-byte tag",
    );
  }
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
  decipher.setAAD(Buffer.from(resource.associated_data ?? "", "utf8"));
  try {
    const body = sealed.subarray(0, sealed.length - GCM_TAG_BYTES);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    throw signatureError(
      "the notification's resource does not decrypt with the APIv3 key (AES-256-GCM authentication failed)",
    );
  }
}
