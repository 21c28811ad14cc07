/**
 * Payment notifications built and signed exactly as the providers document
 * them, with RSA keys made here for the tests: WeChat Pay API v3 (the
 * resource sealed with AES-256-GCM under the APIv3 key, the headers signed
 * over `timestamp\nnonce\nbody\n`) and Alipay (RSA2 over the sorted, non-empty
 * parameters). Shared by the verifiers' tests and the routes' tests.
 */
import {
  createCipheriv,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import type { WechatNotificationInput } from "../../src/guess/pay-notify.js";

export function rsaPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("rsa", { modulusLength: 2048 });
}
export const wechatPlatform = rsaPair();
export const alipay = rsaPair();
export const stranger = rsaPair();

export const WECHAT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
export const API_V3_KEY = "0123456789abcdefghijklmnopqrstuv"; // 32 ASCII bytes
export const MCH_ID = "1230000109";
export const APP_ID = "2015102700040153";

/** PEM text of a public key, as the config holds it. */
export const pem = (key: KeyObject): string =>
  key.export({ type: "spki", format: "pem" }).toString();

/** A transaction as WeChat Pay's notification resource holds it. */
export const WECHAT_TRANSACTION = {
  mchid: MCH_ID,
  appid: "wxd678efh567hg6787",
  out_trade_no: "topup-alice-0001",
  transaction_id: "1217752501201407033233368018",
  trade_type: "JSAPI",
  trade_state: "SUCCESS",
  trade_state_desc: "支付成功",
  success_time: "2024-03-01T11:59:58+08:00",
  payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
  amount: { total: 1234, payer_total: 1234, currency: "CNY", payer_currency: "CNY" },
};

export interface WechatOptions {
  tx?: unknown;
  /** Unix seconds in the Wechatpay-Timestamp header; default now. */
  timestamp?: number;
  signer?: KeyObject;
  apiV3Key?: string;
  associatedData?: string | null;
  /** Replaces the JSON body before signing (to sign a malformed one). */
  rawBody?: string;
}

/** A notification as WeChat Pay sends it: the resource sealed with the APIv3 key, the headers signed. */
export function wechatNotification(
  options: WechatOptions = {},
): Pick<WechatNotificationInput, "headers" | "rawBody"> {
  const resourceNonce = randomBytes(6).toString("hex"); // 12 ASCII bytes
  const aad = options.associatedData === undefined ? "transaction" : options.associatedData;
  const cipher = createCipheriv(
    "aes-256-gcm",
    Buffer.from(options.apiV3Key ?? API_V3_KEY, "utf8"),
    Buffer.from(resourceNonce, "utf8"),
  );
  if (aad !== null) cipher.setAAD(Buffer.from(aad, "utf8"));
  const plaintext = JSON.stringify(options.tx ?? WECHAT_TRANSACTION);
  const sealed = Buffer.concat([
    cipher.update(plaintext, "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  const resource: Record<string, string> = {
    original_type: "transaction",
    algorithm: "AEAD_AES_256_GCM",
    ciphertext: sealed.toString("base64"),
    nonce: resourceNonce,
  };
  if (aad !== null) resource.associated_data = aad;
  const rawBody =
    options.rawBody ??
    JSON.stringify({
      id: "EV-2018022511223320873",
      create_time: "2024-03-01T12:00:00+08:00",
      resource_type: "encrypt-resource",
      event_type: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      resource,
    });
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString("hex");
  const message = `${timestamp}\n${nonce}\n${rawBody}\n`;
  const signature = sign(
    "sha256",
    Buffer.from(message, "utf8"),
    options.signer ?? wechatPlatform.privateKey,
  );
  return {
    rawBody,
    headers: {
      "wechatpay-timestamp": timestamp,
      "wechatpay-nonce": nonce,
      "wechatpay-signature": signature.toString("base64"),
      "wechatpay-serial": WECHAT_SERIAL,
      "content-type": "application/json",
    },
  };
}

/** An Alipay notification's parameters before signing (notify_time 2024-03-01 12:00:00 Beijing). */
export const ALIPAY_PARAMS: Readonly<Record<string, string>> = {
  gmt_create: "2024-03-01 11:59:50",
  charset: "utf-8",
  seller_email: "seller@example.com",
  subject: "大乐透2.1",
  body: "充值 12.34 元",
  buyer_id: "2088102116773037",
  invoice_amount: "12.34",
  notify_id: "4a91b7a78a503640467525113fb7d8bg8e",
  fund_bill_list: '[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]',
  notify_type: "trade_status_sync",
  trade_status: "TRADE_SUCCESS",
  receipt_amount: "12.34",
  app_id: APP_ID,
  buyer_pay_amount: "12.34",
  seller_id: "2088102119685838",
  gmt_payment: "2024-03-01 11:59:58",
  notify_time: "2024-03-01 12:00:00",
  version: "1.0",
  out_trade_no: "topup-bob-0002",
  total_amount: "12.34",
  trade_no: "2016071921001003030200089909",
  auth_app_id: APP_ID,
  buyer_logon_id: "159****5620",
  point_amount: "0.00",
};

/**
 * Signs as Alipay documents it: all params but sign and sign_type, empty
 * values left out, sorted by name, `name=value` joined by `&`, SHA256withRSA
 * over the UTF-8 bytes, base64; then sign_type=RSA2 and sign are added.
 */
export function alipayNotification(
  params: Readonly<Record<string, string>> = ALIPAY_PARAMS,
  signer: KeyObject = alipay.privateKey,
  signType = "RSA2",
): Record<string, string> {
  const content = Object.keys(params)
    .filter((name) => params[name] !== "")
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join("&");
  const signature = sign("sha256", Buffer.from(content, "utf8"), signer).toString("base64");
  return { ...params, sign_type: signType, sign: signature };
}

/** "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8), as Alipay writes notify_time. */
export function beijingTime(ms: number): string {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 19).replace("T", " ");
}
