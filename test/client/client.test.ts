/**
 * gamedock/client against a real `gamedock serve` (memory bus): round trips
 * and reply codes, pushes, timeouts, reconnect and resume after the network
 * drops (a TCP proxy the test cuts), requests queued or failed while
 * disconnected, failover across URLs, tokens (4401 → getToken again, a fixed
 * token refused, refresh over the socket), application groups (membership
 * frames, group pushes resumed), a kick (4403), close(). Then across two
 * servers sharing a Redis bus: the client resumes on the second when the
 * first stops.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connect,
  type ClientOptions,
  type DisconnectInfo,
  type GamedockClient,
  type PushHead,
  type Welcome,
} from "../../src/client/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { startTcpProxy, type TcpProxy } from "../queue/tcp-proxy.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "client-test-secret-0123456789abcdef012";
const secret = new TextEncoder().encode(SECRET);
const token = (uid: string, ttlSeconds = 600): Promise<string> =>
  mintToken(secret, { uid, ttlSeconds });
const HANDLERS = [
  join(import.meta.dirname, "../realtime/fixtures/test-handlers.ts"),
  join(import.meta.dirname, "../../samples/handlers.js"),
];
/** Short delays so reconnects happen within the test's patience, not the defaults' seconds. */
const FAST: ClientOptions = { reconnectMinMs: 50, reconnectMaxMs: 300 };

/** A loopback port nothing listens on (a gateway that is down). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Everything a client reported, for assertions and waiting. */
function record(client: GamedockClient) {
  const seen = {
    welcomes: [] as Welcome[],
    disconnects: [] as DisconnectInfo[],
    pushes: [] as [unknown, PushHead][],
    states: [] as string[],
  };
  client.on("welcome", (w) => seen.welcomes.push(w));
  client.on("disconnect", (d) => seen.disconnects.push(d));
  client.on("push", (body, head) => seen.pushes.push([body, head]));
  client.on("state", ({ state }) => seen.states.push(state));
  return seen;
}

describe("gamedock/client against serve", () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let proxied = "";
  const clients: GamedockClient[] = [];
  const open = (urls: string | string[], options: ClientOptions): GamedockClient => {
    const client = connect(urls, options);
    clients.push(client);
    return client;
  };
  const push = async (to: unknown, msgId: number, body: unknown): Promise<void> => {
    const answer = await server.api("POST", "/api/v1/push", { to, msgId, body });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
  };

  before(async () => {
    server = await startTestServer({ realtime: { jwtSecret: SECRET, handlers: HANDLERS } });
    proxy = await startTcpProxy(Number(new URL(server.url).port));
    proxied = `http://127.0.0.1:${proxy.port}`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await proxy.close();
    await server.close();
  });

  it("answers requests by seq, and rejects with the reply's code", async () => {
    const client = open(server.url, { token: await token("alice") });
    // Made before the welcome: queued, then sent.
    const echoed = client.request(1001, { hello: ["world", 1] });
    assert.deepEqual(await echoed, { hello: ["world", 1] });
    assert.equal(client.state, "open");
    assert.equal(client.welcome?.uid, "alice");
    assert.deepEqual(await client.request(1002, { by: 3 }), { count: 3 });
    await assert.rejects(client.request(1999, {}), {
      name: "GamedockClientError",
      code: "E_UNKNOWN_MSG",
      msgId: 1999,
    });
    await assert.rejects(client.request(1100, {}), { code: "E_HANDLER" });
    await assert.rejects(client.request(1102, {}), {
      code: "E_INVALID_REQUEST",
      message: "bet amount must be positive",
    });
    await assert.rejects(client.request(2, {}), { code: "E_CLIENT_INVALID" });
    await assert.rejects(client.request(1001, { big: 1n }), { code: "E_CLIENT_INVALID" });
    // The WebSocket URL itself works as well as the HTTP base.
    const direct = open(`${server.url.replace(/^http/, "ws")}/ws`, { token: await token("al") });
    assert.equal(await direct.request(1001, "direct"), "direct");
  });

  it("rejects with E_CLIENT_TIMEOUT when the reply is late, and ignores the late reply", async () => {
    const client = open(server.url, { token: await token("tim") });
    await assert.rejects(client.request(1101, { ms: 600 }, { timeout: 100 }), {
      code: "E_CLIENT_TIMEOUT",
    });
    // Answered after the late reply came back: it matched nothing and broke nothing.
    assert.deepEqual(await client.request(1101, { ms: 700 }), { slept: 700, aborted: false });
  });

  it("delivers pushes to on(msgId) listeners until unsubscribed", async () => {
    const client = open(server.url, { token: await token("ben") });
    const seen = record(client);
    const gifts: unknown[] = [];
    const news: [unknown, PushHead][] = [];
    client.on(1050, (body) => gifts.push(body));
    const stop = client.on(1500, (body) => gifts.push(body));
    client.on(1600, (body, head) => news.push([body, head]));
    // A listener that throws stops neither the others nor the client: it is reported.
    const errors: { code: string; message: string }[] = [];
    client.on(1050, () => {
      throw new Error("a bug in the app");
    });
    client.on("error", (err) => errors.push(err));
    await client.ready();
    const { offset } = await client.request<{ offset: number }>(1004, { gift: 1 });
    await push({ uid: "ben" }, 1500, { gift: 2 });
    await push({ all: true }, 1600, { news: "up" });
    await waitFor(() => gifts.length === 2 && news.length === 1, "three pushes");
    assert.deepEqual(gifts, [{ gift: 1 }, { gift: 2 }]);
    assert.equal(errors[0]?.code, "E_LISTENER");
    assert.match(errors[0].message, /msgId 1050 threw: a bug in the app/);
    assert.equal(seen.pushes[0]![1].offset, offset);
    const [newsBody, newsHead] = news[0]!;
    assert.deepEqual([newsBody, newsHead.stream], [{ news: "up" }, "all"]);
    stop();
    await push({ uid: "ben" }, 1500, { gift: 3 });
    await waitFor(() => seen.pushes.length === 4, "the push after unsubscribing");
    assert.equal(gifts.length, 2, "the unsubscribed listener got nothing more");
  });

  it("reconnects after the network drops and resumes: every push once, in order", async () => {
    const client = open(proxied, { token: await token("cat"), ...FAST });
    const seen = record(client);
    const numbers = () => seen.pushes.map(([body]) => (body as { n: number }).n);
    await client.ready();
    for (const n of [1, 2]) await push({ uid: "cat" }, 1500, { n });
    await waitFor(() => seen.pushes.length === 2, "the first pushes");
    await proxy.cut();
    await waitFor(() => seen.disconnects.length > 0, "the drop");
    for (const n of [3, 4, 5, 6]) await push({ uid: "cat" }, 1500, { n }); // while away
    await proxy.restore();
    await waitFor(() => seen.welcomes.length === 2, "the second welcome");
    assert.equal(seen.welcomes[1]!.recovered, true);
    await push({ uid: "cat" }, 1500, { n: 7 });
    await waitFor(() => seen.pushes.length >= 7, "every push");
    assert.deepEqual(numbers(), [1, 2, 3, 4, 5, 6, 7]);
    const offsets = seen.pushes.map(([, head]) => head.offset!);
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => offsets[0]! + i),
      "consecutive offsets",
    );
    assert.equal(client.resumeState.user?.offset, offsets.at(-1));
    assert.equal(seen.disconnects[0]!.wasOpen, true);
    assert.ok(seen.states.includes("reconnecting"));
  });

  it("queues requests made while disconnected and sends them after the welcome", async () => {
    const client = open(proxied, { token: await token("dee"), ...FAST });
    const seen = record(client);
    await client.ready();
    // Rejections are awaited later: assert.rejects is attached now, so none goes unhandled.
    const inFlight = assert.rejects(client.request(1101, { ms: 400 }), { code: "E_DISCONNECTED" });
    const resent = client.request(1101, { ms: 400 }, { idempotent: true });
    await proxy.cut();
    await waitFor(() => client.state === "reconnecting", "reconnecting");
    const queued = [client.request(1001, "a"), client.request(1002, { by: 5 })];
    await inFlight;
    await proxy.restore();
    assert.deepEqual(await Promise.all(queued), ["a", { count: 5 }]);
    assert.deepEqual(await resent, { slept: 400, aborted: false });
    assert.equal(seen.welcomes.length, 2);
  });

  it('"fail" mode rejects requests while disconnected (E_NOT_CONNECTED)', async () => {
    const client = open(proxied, { token: await token("eve"), whileDisconnected: "fail", ...FAST });
    await assert.rejects(client.request(1001, "too early"), { code: "E_NOT_CONNECTED" });
    await client.ready();
    const inFlight = assert.rejects(client.request(1101, { ms: 400 }), { code: "E_DISCONNECTED" });
    await proxy.cut();
    await inFlight;
    await waitFor(() => client.state !== "open", "the drop");
    await assert.rejects(client.request(1001, "away"), { code: "E_NOT_CONNECTED" });
    await proxy.restore();
    await client.ready();
    assert.equal(await client.request(1001, "back"), "back");
  });

  it("fails over to the next URL when the first is down", async () => {
    const down = `http://127.0.0.1:${await deadPort()}`;
    const client = open([down, server.url], { token: await token("fay"), ...FAST });
    const seen = record(client);
    assert.equal(await client.request(1001, "via the second"), "via the second");
    assert.equal(seen.disconnects[0]?.url, `${down.replace(/^http/, "ws")}/ws`);
    assert.equal(seen.disconnects[0]?.wasOpen, false);
    assert.equal(seen.welcomes.length, 1);
  });

  it("gives up on an attempt that gets no welcome in time, and tries again", async () => {
    proxy.hold(); // the handshake waits in the proxy: no welcome comes
    try {
      const client = open(proxied, { token: await token("hob"), connectTimeoutMs: 200, ...FAST });
      const seen = record(client);
      await waitFor(() => seen.disconnects.length > 0, "the attempt given up");
      assert.match(seen.disconnects[0]!.reason, /no welcome within 200 ms/);
      assert.equal(seen.disconnects[0]!.wasOpen, false);
      proxy.release();
      assert.equal(await client.request(1001, "late but here"), "late but here");
    } finally {
      proxy.release();
    }
  });

  it("on 4401 gets a new token from getToken and reconnects", async () => {
    let calls = 0;
    const client = open(server.url, {
      // The first token expires at once: the gateway closes with 4401 (at the handshake or at exp).
      getToken: () => token("gus", ++calls === 1 ? 1 : 600),
      ...FAST,
    });
    const seen = record(client);
    await waitFor(() => seen.disconnects.some((d) => d.code === 4401), "the 4401");
    await waitFor(() => client.state === "open" && calls >= 2, "the reconnect");
    assert.equal(await client.request(1001, "renewed"), "renewed");
  });

  it("stops with E_UNAUTHORIZED when a fixed token is refused", async () => {
    const client = open(server.url, { token: "not.a.jwt", ...FAST });
    const closed = new Promise((resolve) => client.on("closed", resolve));
    await assert.rejects(client.request(1001, "never"), { code: "E_UNAUTHORIZED" });
    assert.deepEqual(
      { ...((await closed) as object), message: undefined },
      { code: "E_UNAUTHORIZED", closeCode: 4401, message: undefined },
    );
    assert.equal(client.state, "closed");
    await assert.rejects(client.ready(), { code: "E_UNAUTHORIZED" });
  });

  it("refreshes the token over the socket", async () => {
    const client = open(server.url, {
      token: await token("hal", 60),
      getToken: () => token("hal", 3600),
    });
    const { exp } = await client.refreshToken();
    assert.ok(exp !== null && exp > Date.now() / 1000 + 3000);
    await assert.rejects(client.refreshToken(await token("mallory")), { code: "E_TOKEN_INVALID" });
  });

  it("follows application groups: membership frames, group pushes, resume across a drop", async () => {
    const client = open(proxied, { token: await token("gil"), ...FAST });
    const seen = record(client);
    const changes: unknown[] = [];
    client.on("membership", (change) => changes.push(change));
    await client.ready();
    const member = "/api/v1/realtime/groups/red/members/gil";
    assert.equal((await server.api("PUT", member)).status, 200);
    await waitFor(() => changes.length === 1, "the membership frame");
    const toRed = (n: number) => push({ group: "red" }, 1500, { n });
    await toRed(1);
    await waitFor(() => seen.pushes.length === 1, "the first group push");
    await proxy.cut();
    await waitFor(() => seen.disconnects.length > 0, "the drop");
    for (const n of [2, 3]) await toRed(n); // while away
    await proxy.restore();
    await waitFor(() => seen.pushes.length >= 3, "the missed group pushes");
    assert.deepEqual(
      seen.pushes.map(([body, head]) => [body, head.stream, head.group]),
      [1, 2, 3].map((n) => [{ n }, "group", "red"]),
    );
    assert.equal(seen.welcomes[1]!.recovered, true);
    assert.equal(client.resumeState.groups.red?.offset, seen.pushes[2]![1].offset);
    assert.equal((await server.api("DELETE", member)).status, 200);
    await waitFor(() => changes.length === 2, "the leave");
    assert.deepEqual(changes[1], { joined: {}, left: ["red"] });
    assert.deepEqual(client.resumeState.groups, {});
  });

  it("stops when kicked (4403): E_KICKED, no reconnect", async () => {
    const client = open(server.url, { token: await token("kim"), ...FAST });
    const closed = new Promise((resolve) => client.on("closed", resolve));
    await client.ready();
    const pending = assert.rejects(client.request(1101, { ms: 500 }), { code: "E_KICKED" });
    const kicked = await server.api("POST", "/api/v1/realtime/users/kim/kick", { reason: "bye" });
    assert.equal(kicked.status, 200, JSON.stringify(kicked.json));
    assert.deepEqual(await closed, {
      code: "E_KICKED",
      message: "the gateway kicked the connection: bye",
      closeCode: 4403,
    });
    await pending;
    assert.equal(client.state, "closed");
  });

  it("close() fails what is pending with E_CLOSED and stops", async () => {
    const client = open(server.url, { token: await token("ida") });
    await client.ready();
    const pending = assert.rejects(client.request(1101, { ms: 300 }), { code: "E_CLOSED" });
    await client.close();
    await pending;
    await assert.rejects(client.request(1001, 1), { code: "E_CLOSED" });
    assert.equal(client.state, "closed");
  });
});

const skipRedis = await skipUnlessService("redis");

describe("gamedock/client across two servers on Redis", { skip: skipRedis }, () => {
  const prefix = uniquePrefix("client");
  const servers: TestServer[] = [];
  let client: GamedockClient | null = null;
  const config = () => ({
    realtime: {
      jwtSecret: SECRET,
      bus: { driver: "redis", url: SERVICES.redis.url, prefix },
    },
  });
  before(async () => {
    servers.push(await startTestServer(config()), await startTestServer(config()));
  });
  after(async () => {
    await client?.close();
    await Promise.all(servers.map((s) => s.close()));
    await dropRedisPrefix(prefix);
  });

  it("resumes on the second server when the first stops (1012), missing nothing", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    // Backoff of at least a second: the pushes below happen while the client is away.
    client = connect([a.url, b.url], {
      token: await token("roamer"),
      reconnectMinMs: 1000,
      reconnectMaxMs: 2000,
    });
    const seen = record(client);
    const push = async (n: number) => {
      const answer = await b.api("POST", "/api/v1/push", {
        to: { uid: "roamer" },
        msgId: 1500,
        body: { n },
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
    };
    await client.ready();
    for (const n of [1, 2]) await push(n);
    await waitFor(() => seen.pushes.length === 2, "the first pushes");
    await a.close();
    servers.splice(0, 1);
    await waitFor(() => seen.disconnects.length > 0, "the drop");
    assert.equal(seen.disconnects[0]!.code, 1012);
    for (const n of [3, 4, 5]) await push(n);
    await waitFor(() => seen.welcomes.length === 2, "the welcome on the second server");
    assert.notEqual(seen.welcomes[1]!.gatewayId, seen.welcomes[0]!.gatewayId);
    assert.equal(seen.welcomes[1]!.recovered, true);
    await push(6);
    await waitFor(() => seen.pushes.length >= 6, "every push");
    assert.deepEqual(
      seen.pushes.map(([body]) => (body as { n: number }).n),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(await client.request(1001, "on b"), "on b");
  });
});

describe("gamedock/client across a gateway's drain", () => {
  it("gets the reply in flight, and resends a request the draining gateway refused (E_DRAINING) on the next", async () => {
    const config = { realtime: { jwtSecret: SECRET, handlers: HANDLERS } };
    const a = await startTestServer(config);
    const b = await startTestServer(config);
    const client = connect([a.url, b.url], { token: await token("drained"), ...FAST });
    try {
      const first = await client.ready();
      const inFlight = client.request(1101, { ms: 1500 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // it reaches a's worker
      const stopping = a.close();
      // Sent while a drains: refused with E_DRAINING, queued, sent again on b.
      const refused = client.request(1003, null);
      assert.deepEqual(await inFlight, { slept: 1500, aborted: false });
      const answer = (await refused) as { uid: string };
      assert.equal(answer.uid, "drained");
      assert.notEqual(client.welcome?.gatewayId, first.gatewayId, "answered by the other gateway");
      await stopping;
    } finally {
      await client.close();
      await b.close();
    }
  });
});
