/**
 * Pushes through serve (memory bus): POST /api/v1/push and ctx.push to a
 * user, to several, to everyone; persisted ones replayed in order and once
 * to a client that reconnects with its offset and epoch; `recovered: false`
 * when it cannot be; persist: false never replayed; refusals of bad pushes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mintToken } from "../../src/realtime/index.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { sleep } from "../helpers/wait.js";
import { openSocket, type Frame, type TestSocket } from "./ws-client.js";

const SECRET = "push-test-secret-0123456789abcdef0123";
const secret = new TextEncoder().encode(SECRET);

interface Welcome {
  epoch: string;
  offset: number;
  allEpoch: string;
  allOffset: number;
  recovered: boolean;
}

describe("pushes", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ realtime: { jwtSecret: SECRET, presenceTtlMs: 3000 } });
  });
  after(() => server.close());

  const connect = async (
    uid: string,
    query = "",
  ): Promise<{ ws: TestSocket; welcome: Welcome }> => {
    const token = await mintToken(secret, { uid, ttlSeconds: 600 });
    const ws = await openSocket(server.url, { token, query });
    const [, welcome] = await ws.next(([h]) => h.msgId === 1, "the welcome");
    return { ws, welcome: welcome as Welcome };
  };
  const push = async (to: unknown, msgId: number, body: unknown, persist?: boolean) => {
    const answer = await server.api("POST", "/api/v1/push", {
      to,
      msgId,
      body,
      ...(persist === undefined ? {} : { persist }),
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return answer.json as {
      gateways: number;
      offsets: Record<string, number>;
      broadcastOffset?: number;
    };
  };
  const pushes = (ws: TestSocket, stream = "user"): Frame[] =>
    ws.frames.filter(([h]) => h.push === true && h.stream === stream);

  it("delivers a push to the user's connections with its history offset", async () => {
    const a1 = await connect("ann");
    const a2 = await connect("ann");
    const b = await connect("ben");
    const answer = await push({ uid: "ann" }, 1500, { hello: 1 });
    assert.equal(answer.offsets.ann, a1.welcome.offset + 1);
    for (const { ws } of [a1, a2]) {
      const [head, body] = await ws.next(([h]) => h.msgId === 1500, "the push");
      assert.deepEqual(head, {
        msgId: 1500,
        push: true,
        stream: "user",
        offset: answer.offsets.ann,
      });
      assert.deepEqual(body, { hello: 1 });
    }
    await push({ uids: ["ann", "ben"] }, 1501, "both");
    await b.ws.next(([h]) => h.msgId === 1501, "ben's push");
    await a1.ws.next(([h]) => h.msgId === 1501, "ann's push");
    assert.equal(pushes(b.ws).length, 1, "ben got only the push naming him");
    for (const c of [a1, a2, b]) c.ws.close();
  });

  it("replays what a client missed, in order and once, then goes on live", async () => {
    const first = await connect("cat");
    await push({ uid: "cat" }, 1500, "seen");
    await first.ws.next(([h]) => h.msgId === 1500, "the first push");
    const [head] = pushes(first.ws)[0]!;
    first.ws.close();
    await first.ws.closed;
    for (let i = 1; i <= 5; i++) await push({ uid: "cat" }, 1500, `missed ${i}`);
    await push({ uid: "cat" }, 1500, "not kept", false);
    const back = await connect(
      "cat",
      `lastOffset=${head.offset as number}&epoch=${first.welcome.epoch}`,
    );
    assert.equal(back.welcome.recovered, true);
    assert.equal(back.welcome.epoch, first.welcome.epoch);
    const live = await push({ uid: "cat" }, 1500, "live");
    await back.ws.next(([, body]) => body === "live", "the live push");
    await sleep(200);
    const got = pushes(back.ws).map(([h, body]) => [h.offset, body]);
    const base = head.offset as number;
    assert.deepEqual(got, [
      ...[1, 2, 3, 4, 5].map((i) => [base + i, `missed ${i}`]),
      [live.offsets.cat, "live"],
    ]);
    assert.equal(back.welcome.offset, base + 5, "the welcome's offset is where the replay ends");
    back.ws.close();
  });

  it("says recovered: false for another epoch or an offset trimmed away", async () => {
    const { ws, welcome } = await connect("dan", "lastOffset=3&epoch=not-this-one");
    assert.equal(welcome.recovered, false);
    assert.equal(pushes(ws).length, 0, "nothing replayed from another epoch");
    ws.close();
  });

  it("pushes to everyone once per gateway, with the broadcast history's offset", async () => {
    const e = await connect("eve");
    const f = await connect("fay");
    const answer = await push({ all: true }, 1600, { news: "up" });
    assert.equal(answer.gateways, 1);
    for (const c of [e, f]) {
      const [head, body] = await c.ws.next(([h]) => h.msgId === 1600, "the broadcast");
      assert.deepEqual(head, {
        msgId: 1600,
        push: true,
        stream: "all",
        offset: answer.broadcastOffset,
      });
      assert.deepEqual(body, { news: "up" });
    }
    e.ws.close();
    await e.ws.closed;
    await push({ all: true }, 1600, "while away");
    const back = await connect(
      "eve",
      `allOffset=${answer.broadcastOffset!}&allEpoch=${e.welcome.allEpoch}`,
    );
    const [head, body] = await back.ws.next(([h]) => h.msgId === 1600, "the missed broadcast");
    assert.deepEqual([head.offset, body], [answer.broadcastOffset! + 1, "while away"]);
    for (const c of [f, back]) c.ws.close();
  });

  it("ctx.push from a handler (sample 1004) reaches the caller", async () => {
    const { ws } = await connect("gus");
    const [head, reply] = await ws.request(1004, { ping: true }, 1);
    assert.equal(head.code, 0);
    const [pushHead, body] = await ws.next(([h]) => h.msgId === 1050, "the pushed message");
    assert.deepEqual(body, { ping: true });
    assert.equal(pushHead.offset, (reply as { offset: number }).offset);
    ws.close();
  });

  it("refuses bad pushes with 400 E_INVALID_REQUEST naming the field", async () => {
    const cases: [unknown, RegExp][] = [
      [{ to: { uid: "x" }, msgId: 5, body: 1 }, /msgId/],
      [{ to: { uid: "x" }, msgId: 1500.5, body: 1 }, /msgId/],
      [{ to: {}, msgId: 1500, body: 1 }, /to/],
      [{ to: { uid: "x", all: true }, msgId: 1500, body: 1 }, /one of/],
      [{ to: { uids: [] }, msgId: 1500, body: 1 }, /to\.uids/],
      [{ to: { uids: ["ok", "bad\u0000"] }, msgId: 1500, body: 1 }, /to\.uids\[1\]/],
      [{ to: { all: false }, msgId: 1500, body: 1 }, /to/],
      [{ to: { uid: "x" }, msgId: 1500 }, /body/],
      [{ to: { uid: "x" }, msgId: 1500, body: 1, persist: "yes" }, /persist/],
      [{ to: { uid: "x" }, msgId: 1500, body: 1, extra: 1 }, /unknown field extra/],
      // 2 MB to 40 users would be 80 MB in the histories
      [
        {
          to: { uids: Array.from({ length: 40 }, (_, i) => `u${i}`) },
          msgId: 1500,
          body: "x".repeat(2_000_000),
        },
        /persist: false/,
      ],
    ];
    for (const [payload, message] of cases) {
      const answer = await server.api("POST", "/api/v1/push", payload);
      assert.equal(answer.status, 400, JSON.stringify(payload));
      const error = (answer.json as { error: { code: string; message: string } }).error;
      assert.equal(error.code, "E_INVALID_REQUEST", JSON.stringify(payload));
      assert.match(error.message, message, JSON.stringify(payload));
    }
  });
});
