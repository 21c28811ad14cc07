/**
 * The gateway and the in-process logic worker inside `gamedock serve`, over
 * real WebSockets: auth, both subprotocols, request/reply, every malformed
 * frame, handler failures and time limits, token expiry and refresh, frame
 * size, and the handler modules' composition.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mintToken } from "../../src/realtime/index.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { openSocket } from "./ws-client.js";

const SECRET = "gateway-test-secret-0123456789abcdef";
const secret = new TextEncoder().encode(SECRET);
const FIXTURES = join(import.meta.dirname, "fixtures");
const token = (uid: string, extra: { group?: string; ttlSeconds?: number } = {}) =>
  mintToken(secret, { uid, ttlSeconds: 3600, ...extra });

describe("realtime gateway in serve", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      realtime: {
        jwtSecret: SECRET,
        handlers: [
          join(FIXTURES, "test-handlers.ts"),
          join(import.meta.dirname, "../../samples/handlers.js"),
        ],
        handlerTimeoutMs: 300,
        maxFrameBytes: 4096,
      },
    });
  });
  after(() => server.close());

  it("welcomes a connection and answers requests by seq (JSON)", async () => {
    const ws = await openSocket(server.url, { token: await token("alice") });
    const [welcomeHead, welcome] = await ws.next(([h]) => h.msgId === 1, "the welcome");
    assert.deepEqual(welcomeHead, { msgId: 1, push: true });
    assert.equal((welcome as { uid: string }).uid, "alice");
    assert.equal((welcome as { group: string }).group, "default");
    assert.deepEqual(await ws.request(1001, { hello: ["world", 1] }, 7), [
      { msgId: 1001, seq: 7, code: 0 },
      { hello: ["world", 1] },
    ]);
    const [, counted] = await ws.request(1002, { by: 3 }, 8);
    assert.deepEqual(counted, { count: 3 });
    const [, ctx] = await ws.request(1103, "x", 9);
    assert.equal((ctx as { uid: string }).uid, "alice");
    assert.match((ctx as { messageId: string }).messageId, /^default:\d+-\d+$/);
    ws.close();
  });

  it("speaks gamedock.msgpack.v1 in binary frames", async () => {
    const ws = await openSocket(server.url, {
      token: await token("bob"),
      protocol: "gamedock.msgpack.v1",
    });
    const bytes = Buffer.from([0, 255, 7]);
    const [head, body] = await ws.request(1001, { bytes, n: 1.5 }, 1);
    assert.deepEqual(head, { msgId: 1001, seq: 1, code: 0 });
    assert.deepEqual(body, { bytes, n: 1.5 });
    ws.close();
  });

  it("closes with 4401 for a missing, bad or expired token", async () => {
    const cases = [
      { name: "none", token: undefined, reason: /no token/ },
      { name: "garbage", token: "not.a.jwt", reason: /not valid/ },
      {
        name: "other secret",
        token: await mintToken(new TextEncoder().encode("another-secret-entirely-000000"), {
          uid: "eve",
          ttlSeconds: 60,
        }),
        reason: /not valid/,
      },
      { name: "expired", token: await token("old", { ttlSeconds: -10 }), reason: /expired/ },
    ];
    for (const c of cases) {
      const ws = await openSocket(server.url, c.token ? { token: c.token } : {});
      const closed = await ws.closed;
      assert.equal(closed.code, 4401, c.name);
      assert.match(closed.reason, c.reason, c.name);
      assert.equal(ws.frames.length, 0, `${c.name}: no welcome`);
    }
  });

  it("accepts the token as Authorization: Bearer", async () => {
    const ws = await openSocket(server.url, {
      headers: { authorization: `Bearer ${await token("carol")}` },
    });
    assert.deepEqual((await ws.request(1001, 1, 1))[1], 1);
    ws.close();
  });

  it("answers malformed frames with E_FRAME_INVALID and keeps the connection", async () => {
    const ws = await openSocket(server.url, { token: await token("dave") });
    const refusals: [unknown, RegExp, number | undefined][] = [
      ["{not json", /not a gamedock\.json\.v1 frame/, undefined],
      [JSON.stringify({ msgId: 1001, seq: 1 }), /\[head, body\]/, undefined],
      [JSON.stringify([{ msgId: 1001, seq: 1 }]), /\[head, body\]/, undefined],
      [JSON.stringify([null, {}]), /head/, undefined],
      [JSON.stringify([{ msgId: 1001 }, {}]), /seq/, undefined],
      [JSON.stringify([{ msgId: 1001, seq: -1 }, {}]), /seq/, undefined],
      [JSON.stringify([{ msgId: "1001", seq: 11 }, {}]), /msgId/, 11],
      [JSON.stringify([{ msgId: 1001.5, seq: 12 }, {}]), /msgId/, 12],
      [JSON.stringify([{ msgId: 7, seq: 13 }, {}]), /reserved/, 13],
      [JSON.stringify([{ seq: 14 }, {}]), /msgId/, 14],
    ];
    for (const [raw, message, seq] of refusals) {
      const before = ws.frames.length;
      ws.sendRaw(raw as string);
      const frame = await ws.next(
        (f) => ws.frames.indexOf(f) >= before && f[0].code === "E_FRAME_INVALID",
        `refusal of ${String(raw)}`,
      );
      assert.match((frame[1] as { message: string }).message, message, String(raw));
      if (seq === undefined)
        assert.deepEqual(frame[0], { msgId: 3, push: true, code: "E_FRAME_INVALID" });
      else assert.equal(frame[0].seq, seq);
    }
    ws.sendRaw(Buffer.from([1, 2, 3])); // binary on the JSON subprotocol
    await ws.next(
      (f) => /takes text frames/.test(String((f[1] as { message?: string }).message)),
      "binary refusal",
    );
    assert.deepEqual((await ws.request(1001, "still here", 20))[1], "still here");
    ws.close();
  });

  it("E_UNKNOWN_MSG, E_HANDLER without the error's text, a deliberate error, E_TIMEOUT", async () => {
    const ws = await openSocket(server.url, { token: await token("erin") });
    let [head, body] = await ws.request(1999, {}, 1);
    assert.equal(head.code, "E_UNKNOWN_MSG");
    [head, body] = await ws.request(1100, {}, 2);
    assert.equal(head.code, "E_HANDLER");
    assert.doesNotMatch(JSON.stringify(body), /secret detail/);
    [head, body] = await ws.request(1102, {}, 3);
    assert.deepEqual(
      [head.code, body],
      ["E_INVALID_REQUEST", { message: "bet amount must be positive" }],
    );
    [head, body] = await ws.request(1101, { ms: 2000 }, 4);
    assert.equal(head.code, "E_TIMEOUT");
    [head, body] = await ws.request(1101, { ms: 10 }, 5);
    assert.deepEqual([head.code, body], [0, { slept: 10, aborted: false }]);
    ws.close();
  });

  it("closes a frame over maxFrameBytes with 1009", async () => {
    const ws = await openSocket(server.url, { token: await token("frank") });
    ws.send([{ msgId: 1001, seq: 1 }, "x".repeat(5000)]);
    assert.equal((await ws.closed).code, 1009);
  });

  it("closes at the token's expiry with 4401 unless refreshed over the socket", async () => {
    const short = await openSocket(server.url, { token: await token("gina", { ttlSeconds: 2 }) });
    const refreshed = await openSocket(server.url, {
      token: await token("gina", { ttlSeconds: 2 }),
    });
    const [head, body] = await refreshed.request(
      2,
      { token: await token("gina", { ttlSeconds: 60 }) },
      1,
    );
    assert.equal(head.code, 0);
    assert.ok((body as { exp: number }).exp > Date.now() / 1000 + 30);
    const [otherHead] = await refreshed.request(2, { token: await token("mallory") }, 2);
    assert.equal(otherHead.code, "E_TOKEN_INVALID", "a token for another uid is refused");
    const closed = await short.closed;
    assert.deepEqual([closed.code, /expired/.test(closed.reason)], [4401, true]);
    assert.deepEqual((await refreshed.request(1001, "alive", 3))[1], "alive");
    refreshed.close();
  });
});

describe("handler modules", () => {
  it("refuses to start when two modules' msgId ranges overlap, naming both", async () => {
    await assert.rejects(
      startTestServer({
        realtime: {
          jwtSecret: SECRET,
          handlers: [join(FIXTURES, "test-handlers.ts"), join(FIXTURES, "overlap-handlers.ts")],
        },
      }),
      { code: "E_CONFIG", message: /"test-handlers".*"overlapping".*overlap/ },
    );
  });

  it("refuses a module that cannot be loaded, naming its path", async () => {
    await assert.rejects(
      startTestServer({
        realtime: { jwtSecret: SECRET, handlers: [join(FIXTURES, "missing.js")] },
      }),
      { code: "E_CONFIG", message: /missing\.js.*cannot be loaded/ },
    );
  });
});
