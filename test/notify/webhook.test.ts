import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { afterEach, describe, it } from "node:test";
import { GamedockError } from "../../src/core/index.js";
import { createSink, type Sink, type SinkConfig } from "../../src/notify/index.js";
import { channelDone, channelFailed } from "./events.js";
import { deadPort, startReceiver, type Receiver } from "./receiver.js";

const SECRET = "s3cr3t-签名密钥";

/** The receiver's check, written as the docs tell a game server to write it. */
function verifySignature(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const timestamp = headers["x-gamedock-timestamp"];
  const signature = headers["x-gamedock-signature"];
  if (typeof timestamp !== "string" || typeof signature !== "string") return false;
  const expected =
    "sha256=" + createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  const a = Buffer.from(signature);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function config(url: string, overrides: Partial<SinkConfig> = {}): SinkConfig {
  return {
    type: "webhook",
    url,
    secret: SECRET,
    timeoutMs: 1000,
    retries: 2,
    backoffMs: 10,
    ...overrides,
  } as SinkConfig;
}

function isNotifyError(code: string, check: (err: GamedockError) => void) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof GamedockError, `expected GamedockError, got ${String(err)}`);
    assert.equal(err.code, code);
    check(err);
    return true;
  };
}

describe("webhook sink", () => {
  let receiver: Receiver | undefined;
  let sink: Sink | undefined;
  afterEach(async () => {
    await sink?.close();
    await receiver?.close();
    sink = undefined;
    receiver = undefined;
  });

  it("posts the event as JSON with a signature the receiver can verify", async () => {
    receiver = await startReceiver(() => ({ status: 204 }));
    sink = await createSink("game-server", config(`${receiver.url}/hooks/gamedock`));
    await sink.send(channelDone);

    assert.equal(receiver.requests.length, 1);
    const [request] = receiver.requests;
    assert.equal(request!.method, "POST");
    assert.equal(request!.url, "/hooks/gamedock");
    assert.equal(request!.headers["content-type"], "application/json");
    assert.equal(request!.headers["x-gamedock-event"], "channel.done");
    assert.match(String(request!.headers["x-gamedock-timestamp"]), /^\d{10}$/);
    assert.match(String(request!.headers["x-gamedock-signature"]), /^sha256=[0-9a-f]{64}$/);
    // Chinese names arrive intact as UTF-8.
    assert.deepEqual(JSON.parse(request!.body), channelDone);

    assert.equal(verifySignature(SECRET, request!.headers, request!.body), true);
    // The check is meaningful: a changed body, a wrong secret or a replayed
    // signature with another timestamp all fail it.
    const tampered = request!.body.replace("华为_cn", "华为_cm");
    assert.notEqual(tampered, request!.body);
    assert.equal(verifySignature(SECRET, request!.headers, tampered), false);
    assert.equal(verifySignature("wrong-secret", request!.headers, request!.body), false);
    const otherTime = { ...request!.headers, "x-gamedock-timestamp": "1000000000" };
    assert.equal(verifySignature(SECRET, otherTime, request!.body), false);
  });

  it("sends the event id as Idempotency-Key, the same on a repeat send", async () => {
    receiver = await startReceiver(() => ({ status: 200, body: "ok" }));
    sink = await createSink("game-server", config(receiver.url));
    await sink.send(channelFailed);
    await sink.send(channelFailed);

    assert.equal(receiver.requests.length, 2);
    const keys = receiver.requests.map((r) => String(r.headers["idempotency-key"]));
    // Header values are bytes: the Chinese channel in the id arrives percent-encoded.
    assert.equal(keys[0], "job-42:%E5%B0%8F%E7%B1%B3:failed");
    assert.equal(decodeURIComponent(keys[0]), channelFailed.id);
    assert.equal(keys[1], keys[0]);
    assert.equal(receiver.requests[1]!.body, receiver.requests[0]!.body);
  });

  it("sends an ASCII event id as Idempotency-Key unchanged", async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    sink = await createSink("game-server", config(receiver.url));
    const event = { ...channelFailed, id: "job-9:xiaomi_v2:failed", channel: "xiaomi_v2" };
    await sink.send(event);
    assert.equal(receiver.requests[0]!.headers["idempotency-key"], "job-9:xiaomi_v2:failed");
  });

  it("sends no signature header when the secret is empty", async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    sink = await createSink("plain", config(receiver.url, { secret: "" }));
    await sink.send(channelDone);
    assert.equal(receiver.requests[0]!.headers["x-gamedock-signature"], undefined);
    const key = String(receiver.requests[0]!.headers["idempotency-key"]);
    assert.equal(decodeURIComponent(key), channelDone.id);
  });

  it("retries 503 and delivers on the third attempt", async () => {
    receiver = await startReceiver((_, i) => ({ status: i < 2 ? 503 : 200 }));
    sink = await createSink("game-server", config(receiver.url, { retries: 2 }));
    await sink.send(channelDone);
    assert.equal(receiver.requests.length, 3);
    // Every attempt is signed afresh and carries the same idempotency key.
    for (const request of receiver.requests) {
      assert.equal(verifySignature(SECRET, request.headers, request.body), true);
      assert.equal(decodeURIComponent(String(request.headers["idempotency-key"])), channelDone.id);
    }
  });

  it("retries 429 and 408 too", async () => {
    receiver = await startReceiver((_, i) => ({ status: [429, 408, 200][i] ?? 200 }));
    sink = await createSink("game-server", config(receiver.url, { retries: 2 }));
    await sink.send(channelDone);
    assert.equal(receiver.requests.length, 3);
  });

  it("gives up with E_NOTIFY_FAILED when 5xx outlasts the retries", async () => {
    receiver = await startReceiver(() => ({ status: 502, body: "bad gateway" }));
    sink = await createSink("game-server", config(receiver.url, { retries: 1 }));
    const host = receiver.host;
    await assert.rejects(
      sink.send(channelDone),
      isNotifyError("E_NOTIFY_FAILED", (err) => {
        assert.match(err.message, /game-server/);
        assert.ok(err.message.includes(host));
        assert.match(err.message, /502/);
        assert.equal(err.details?.status, 502);
        assert.equal(err.retryable, true);
        assert.equal(err.details?.sink, "game-server");
      }),
    );
    assert.equal(receiver.requests.length, 2);
  });

  it("fails at once with E_NOTIFY_PERMANENT on 400, after exactly one request", async () => {
    receiver = await startReceiver(() => ({ status: 400, body: '{"error":"unknown channel"}' }));
    sink = await createSink("game-server", config(receiver.url, { retries: 3 }));
    await assert.rejects(
      sink.send(channelDone),
      isNotifyError("E_NOTIFY_PERMANENT", (err) => {
        assert.equal(err.retryable, false);
        assert.equal(err.details?.status, 400);
        assert.match(err.message, /unknown channel/);
        assert.ok(!err.message.includes(SECRET), "the secret must not appear in messages");
        assert.ok(!JSON.stringify(err.details).includes(SECRET));
      }),
    );
    assert.equal(receiver.requests.length, 1);
  });

  it("fails with E_NOTIFY_FAILED after the timeout when the receiver never answers", async () => {
    receiver = await startReceiver(() => ({ hang: true }));
    sink = await createSink(
      "slow",
      config(receiver.url, { timeoutMs: 100, retries: 1, backoffMs: 5 }),
    );
    await assert.rejects(
      sink.send(channelDone),
      isNotifyError("E_NOTIFY_FAILED", (err) => {
        assert.match(err.message, /no answer within 100 ms/);
        assert.equal(err.retryable, true);
      }),
    );
    assert.equal(receiver.requests.length, 2);
  });

  it("fails with E_NOTIFY_FAILED when the connection is refused", async () => {
    const port = await deadPort();
    sink = await createSink("gone", config(`http://127.0.0.1:${port}/hook`, { retries: 1 }));
    await assert.rejects(
      sink.send(channelDone),
      isNotifyError("E_NOTIFY_FAILED", (err) => {
        assert.match(err.message, /ECONNREFUSED/);
        assert.ok(err.message.includes(`127.0.0.1:${port}`));
        assert.equal(err.retryable, true);
      }),
    );
  });

  it("refuses a config that is not an http(s) URL with E_CONFIG", async () => {
    await assert.rejects(
      createSink("bad", config("ftp://example.com/x")),
      isNotifyError("E_CONFIG", (err) => {
        assert.match(err.message, /notifiers\.bad\.url/);
      }),
    );
    await assert.rejects(
      createSink("bad", config("http://127.0.0.1:1/", { retries: -1 })),
      isNotifyError("E_CONFIG", (err) => {
        assert.match(err.message, /notifiers\.bad\.retries/);
      }),
    );
  });
});
