/**
 * guess.payments through the config loader: a provider is configured whole
 * or not at all, secrets come from GAMEDOCK_* variables, keys are checked as
 * PEM by the schema and as RSA public keys when the routes start (E_CONFIG
 * naming the setting, never the key).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULTS, GamedockError, loadConfig } from "../../src/core/index.js";
import { loadPaymentKeys, providerConfigured } from "../../src/guess/pay-config.js";
import { tempDir } from "../helpers/cli.js";
import {
  API_V3_KEY,
  APP_ID,
  MCH_ID,
  WECHAT_SERIAL,
  alipay,
  pem,
  wechatPlatform,
} from "./pay-signers.js";

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function load(payments: unknown, env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir("pay-config-");
  dirs.push(dir);
  const file = join(dir, "config.json");
  await writeFile(file, JSON.stringify({ guess: { payments } }));
  return loadConfig({ file, env });
}

const configError = (field: string) => (err: unknown) => {
  assert.ok(err instanceof GamedockError, String(err));
  assert.equal(err.code, "E_CONFIG", err.message);
  assert.equal(err.details?.field, field, err.message);
  return true;
};

describe("guess.payments", () => {
  it("is off by default for both providers", () => {
    assert.equal(providerConfigured(DEFAULTS.guess.payments, "wechat"), false);
    assert.equal(providerConfigured(DEFAULTS.guess.payments, "alipay"), false);
    assert.deepEqual(loadPaymentKeys(DEFAULTS.guess.payments), {
      wechat: new Map(),
      alipay: null,
    });
  });

  it("takes WeChat Pay's APIv3 key from the environment and the platform keys from the file", async () => {
    const config = await load(
      {
        wechat: { mchId: MCH_ID, platformKeys: { [WECHAT_SERIAL]: pem(wechatPlatform.publicKey) } },
      },
      { GAMEDOCK_GUESS_PAYMENTS_WECHAT_API_V3_KEY: API_V3_KEY },
    );
    const payments = config.guess.payments;
    assert.equal(payments.wechat.apiV3Key, API_V3_KEY);
    assert.equal(providerConfigured(payments, "wechat"), true);
    assert.equal(loadPaymentKeys(payments).wechat.get(WECHAT_SERIAL)?.asymmetricKeyType, "rsa");
  });

  it("refuses half a provider, a key that is not PEM, an APIv3 key of the wrong length", async () => {
    await assert.rejects(load({ wechat: { mchId: MCH_ID } }), configError("guess.payments.wechat"));
    await assert.rejects(load({ alipay: { appId: APP_ID } }), configError("guess.payments.alipay"));
    await assert.rejects(
      load({
        wechat: {
          mchId: MCH_ID,
          apiV3Key: "short",
          platformKeys: { s: pem(wechatPlatform.publicKey) },
        },
      }),
      configError("guess.payments.wechat.apiV3Key"),
    );
    await assert.rejects(
      load({ wechat: { mchId: MCH_ID, apiV3Key: API_V3_KEY, platformKeys: { s: "not a key" } } }),
      configError("guess.payments.wechat.platformKeys.s"),
    );
    await assert.rejects(
      load({ minTopUp: 500, maxTopUp: 100 }),
      configError("guess.payments.maxTopUp"),
    );
  });

  it("takes Alipay's key as PEM or as the console's bare base64", async () => {
    const bare = pem(alipay.publicKey)
      .replace(/-----[A-Z ]+-----/g, "")
      .replace(/\s/g, "");
    for (const publicKey of [pem(alipay.publicKey), bare]) {
      const config = await load({ alipay: { appId: APP_ID, publicKey } });
      const key = loadPaymentKeys(config.guess.payments).alipay;
      assert.ok(key?.equals(alipay.publicKey));
    }
  });

  it("stops the start with E_CONFIG naming the setting for a key that is not RSA", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
    const config = await load({ alipay: { appId: APP_ID, publicKey: pem(ec) } });
    assert.throws(
      () => loadPaymentKeys(config.guess.payments),
      (err: unknown) => {
        assert.ok(err instanceof GamedockError);
        assert.equal(err.code, "E_CONFIG");
        assert.match(err.message, /guess\.payments\.alipay\.publicKey/);
        assert.ok(!err.message.includes("BEGIN"), "the key itself is not in the message");
        return true;
      },
    );
  });
});
