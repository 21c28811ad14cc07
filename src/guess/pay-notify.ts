/**
 * Payment providers' callbacks, verified: a provider's raw notification in,
 * one normalized VerifiedPayment out, or a GamedockError. Pure functions —
 * no HTTP, no database, only node:crypto — so the route that receives a
 * callback decides what to answer the provider, and the wallet credits
 * `topup:<orderId>` once however often the provider repeats itself.
 *
 * - WeChat Pay API v3 (pay-wechat.ts): signed headers, an AES-256-GCM resource.
 * - Alipay asynchronous notification (pay-alipay.ts): RSA2 over sorted params.
 */
export { verifyWechatNotification, type WechatNotificationInput } from "./pay-wechat.js";
export {
  beijingTimeToMs,
  verifyAlipayNotification,
  yuanToFen,
  type AlipayNotificationInput,
} from "./pay-alipay.js";
export {
  MAX_NOTIFY_BODY_BYTES,
  MAX_NOTIFY_PARAMS,
  type PaymentProvider,
  type PublicKeyInput,
  type VerifiedPayment,
} from "./pay-shared.js";
