/**
 * guess.payments as the orders and the callback routes use it: which
 * providers are configured, and the providers' public keys parsed once, when
 * the routes start — a key that is not an RSA public key stops the start with
 * E_CONFIG naming the setting (never the key), instead of failing every
 * callback later.
 */
import type { KeyObject } from "node:crypto";
import { GamedockError, type Config } from "../core/index.js";
import { rsaPublicKey, type PaymentProvider } from "./pay-shared.js";

export type PaymentSettings = Config["guess"]["payments"];

export const PAYMENT_PROVIDERS: readonly PaymentProvider[] = ["wechat", "alipay"];

/** A provider is configured whole (the schema refuses half a configuration). */
export function providerConfigured(settings: PaymentSettings, provider: PaymentProvider): boolean {
  if (provider === "wechat") {
    const { mchId, apiV3Key, platformKeys } = settings.wechat;
    return mchId !== "" && apiV3Key !== "" && Object.keys(platformKeys).length > 0;
  }
  return settings.alipay.appId !== "" && settings.alipay.publicKey !== "";
}

export function notConfigured(provider: PaymentProvider): GamedockError {
  return new GamedockError(
    "E_PAY_NOT_CONFIGURED",
    `this server takes no payments through ${provider}: guess.payments.${provider} is not set`,
    { provider },
  );
}

export interface PaymentKeys {
  /** WeChat Pay platform keys by serial; empty when WeChat Pay is off. */
  wechat: ReadonlyMap<string, KeyObject>;
  /** Alipay's public key; null when Alipay is off. */
  alipay: KeyObject | null;
}

/** The console's bare base64 (SubjectPublicKeyInfo DER) wrapped as PEM. */
function asPem(key: string): string {
  if (key.startsWith("-----BEGIN")) return key;
  const lines = key.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

/** Parses the configured keys; E_CONFIG naming the setting for one that is not an RSA public key. */
export function loadPaymentKeys(settings: PaymentSettings): PaymentKeys {
  const wechat = new Map<string, KeyObject>();
  if (providerConfigured(settings, "wechat")) {
    for (const [serial, pem] of Object.entries(settings.wechat.platformKeys)) {
      wechat.set(serial, rsaPublicKey(pem, `guess.payments.wechat.platformKeys.${serial}`));
    }
  }
  const alipay = providerConfigured(settings, "alipay")
    ? rsaPublicKey(asPem(settings.alipay.publicKey), "guess.payments.alipay.publicKey")
    : null;
  return { wechat, alipay };
}
