/**
 * The gateway and the in-process logic worker inside `gamedock serve`, over
 * real WebSockets: auth, both subprotocols, request/reply, every malformed
 * frame, handler failures and time limits, token expiry and refresh, frame
 * size, and the handler modules' composition.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mintToken } from "../../src/realtime/index.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { openSocket } from "./ws-client.js";
import { sleep } from "../helpers/wait.js";

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

describe("gateway limits", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      realtime: {
        jwtSecret: SECRET,
        allowedOrigins: ["https://game.example"],
        limits: {
          maxConnections: 3,
          ratePerSecond: 5,
          rateBurst: 5,
          maxBufferedBytes: 64 * 1024,
          pingIntervalMs: 400,
        },
      },
    });
  });
  after(() => server.close());

  it("refuses a browser from an origin not allowed (403), accepts an allowed one and non-browsers", async () => {
    await assert.rejects(
      openSocket(server.url, {
        token: await token("o1"),
        headers: { origin: "https://evil.example" },
      }),
      /403/,
    );
    const allowed = await openSocket(server.url, {
      token: await token("o2"),
      headers: { origin: "https://game.example" },
    });
    const noOrigin = await openSocket(server.url, { token: await token("o3") });
    for (const ws of [allowed, noOrigin]) {
      await ws.next(([h]) => h.msgId === 1, "the welcome");
      ws.close();
      await ws.closed;
    }
  });

  it("closes a connection past maxConnections with 1013", async () => {
    const open = [];
    for (let i = 0; i < 3; i++) {
      const ws = await openSocket(server.url, { token: await token(`c${i}`) });
      await ws.next(([h]) => h.msgId === 1, "the welcome");
      open.push(ws);
    }
    const extra = await openSocket(server.url, { token: await token("c-extra") });
    const closed = await extra.closed;
    assert.deepEqual([closed.code, /full/.test(closed.reason)], [1013, true]);
    for (const ws of open) {
      ws.close();
      await ws.closed;
    }
  });

  it("refuses frames past the rate with E_RATE_LIMITED, then closes with 4429 if they go on", async () => {
    const ws = await openSocket(server.url, { token: await token("rapid") });
    await ws.next(([h]) => h.msgId === 1, "the welcome");
    for (let seq = 1; seq <= 8; seq++) ws.send([{ msgId: 1001, seq }, seq]);
    const [head, body] = await ws.next(([h]) => h.code === "E_RATE_LIMITED", "the rate refusal");
    assert.deepEqual(head, { msgId: 3, push: true, code: "E_RATE_LIMITED" });
    assert.match((body as { message: string }).message, /5 messages a second/);
    const answered = () => ws.frames.filter(([h]) => typeof h.seq === "number").length;
    await ws.next(() => answered() >= 5, "the 5 frames within the burst answered");
    for (let seq = 100; seq < 120; seq++) ws.send([{ msgId: 1001, seq }, seq]);
    const closed = await ws.closed;
    assert.equal(closed.code, 4429);
  });

  it("closes with 4429 a client that floods at once, before or after its token is checked", async () => {
    const ws = await openSocket(server.url, { token: await token("flood") });
    for (let seq = 0; seq < 200; seq++) ws.send([{ msgId: 1001, seq }, seq]);
    assert.equal((await ws.closed).code, 4429);
  });

  it("drops a peer that stops answering pings", async () => {
    const silent = await openSocket(server.url, { token: await token("silent") });
    await silent.next(([h]) => h.msgId === 1, "the welcome");
    silent.pause(); // reads nothing: no pong either
    await sleep(3 * 400);
    silent.resume();
    const closed = await silent.closed;
    assert.equal(closed.code, 1006, "terminated without a close frame");
  });
});

describe("slow consumers", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      realtime: {
        jwtSecret: SECRET,
        limits: { maxBufferedBytes: 64 * 1024, pingIntervalMs: 600_000 },
      },
    });
  });
  after(() => server.close());

  it("closes a socket whose client does not read with 1013, and keeps serving the others", async () => {
    const slow = await openSocket(server.url, { token: await token("slow") });
    await slow.next(([h]) => h.msgId === 1, "the welcome");
    const reader = await openSocket(server.url, { token: await token("reader") });
    await reader.next(([h]) => h.msgId === 1, "the welcome");
    slow.pause();
    const big = "x".repeat(30_000);
    const gaveUp = async () =>
      (await readFile(join(server.data, "gamedock.log"), "utf8").catch(() => "")).includes(
        '"slow-consumer"',
      );
    let sent = 0;
    while (sent < 1000 && !(sent % 20 === 0 && (await gaveUp()))) {
      // persist: false, so the history does not keep the megabytes meanwhile
      await server.api("POST", "/api/v1/push", {
        to: { uid: "slow" },
        msgId: 1500,
        body: big,
        persist: false,
      });
      sent++;
    }
    assert.ok(await gaveUp(), `the server gave up on the slow reader after ${sent} pushes`);
    slow.resume(); // it reads what was buffered, then the close frame
    const closed = await slow.closed;
    assert.deepEqual(
      [closed.code, /too slowly/.test(closed.reason)],
      [1013, true],
      `after ${sent} pushes`,
    );
    assert.deepEqual((await reader.request(1001, "still served", 1))[1], "still served");
    reader.close();
  });
});

describe("realtime gateway drain at shutdown", () => {
  it("answers what is in flight, refuses new requests with E_DRAINING, then closes with 1012", async () => {
    const server = await startTestServer({
      realtime: { jwtSecret: SECRET, handlers: [join(FIXTURES, "test-handlers.ts")] },
    });
    const busy = await openSocket(server.url, { token: await token("busy") });
    await busy.next(([h]) => h.msgId === 1, "the welcome");
    const idle = await openSocket(server.url, { token: await token("idle") });
    await idle.next(([h]) => h.msgId === 1, "the welcome");
    busy.send([{ msgId: 1101, seq: 1 }, { ms: 1500 }]);
    await sleep(200); // the request reaches the worker
    const closing = server.close();
    // The idle socket goes at once; the busy one stays for its reply.
    assert.equal((await idle.closed).code, 1012);
    const [refusedHead] = await busy.request(1101, { ms: 1 }, 2);
    assert.equal(refusedHead.code, "E_DRAINING");
    const [replyHead, reply] = await busy.next(([h]) => h.seq === 1, "the reply in flight");
    assert.equal(replyHead.code, 0);
    assert.deepEqual(reply, { slept: 1500, aborted: false });
    assert.equal((await busy.closed).code, 1012);
    await closing;
  });
});
