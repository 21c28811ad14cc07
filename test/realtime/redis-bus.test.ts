/**
 * Two `serve` processes' realtime runtimes on one Redis bus (in this test
 * process): the sample counter kept in Redis is shared by both workers,
 * a group push sent through one reaches a member connected to the other,
 * and the operations API of either sees both gateways.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { MAX_GROUPS_PER_UID, mintToken } from "../../src/realtime/index.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { waitFor } from "../helpers/wait.js";
import { openSocket } from "./ws-client.js";

const skip = await skipUnlessService("redis");
const SECRET = "redis-bus-test-secret-0123456789abcdef";
const secret = new TextEncoder().encode(SECRET);

describe("serve's realtime on a shared Redis bus", { skip }, () => {
  const prefix = uniquePrefix("rtbus");
  const servers: TestServer[] = [];
  before(async () => {
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startTestServer({
          realtime: {
            jwtSecret: SECRET,
            presenceTtlMs: 3000,
            bus: { driver: "redis", url: SERVICES.redis.url, prefix },
          },
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await dropRedisPrefix(prefix);
  });

  const connect = async (server: TestServer, uid: string) => {
    const ws = await openSocket(server.url, {
      token: await mintToken(secret, { uid, ttlSeconds: 600 }),
    });
    await ws.next(([h]) => h.msgId === 1, "the welcome");
    return ws;
  };

  it("keeps the sample counter in Redis, shared by every worker", async () => {
    const [a, b] = [
      await connect(servers[0]!, "counter-kim"),
      await connect(servers[1]!, "counter-kim"),
    ];
    assert.deepEqual((await a.request(1002, { by: 2 }, 1))[1], { count: 2 });
    assert.deepEqual((await b.request(1002, { by: 5 }, 1))[1], { count: 7 });
    assert.deepEqual((await a.request(1002, null, 2))[1], { count: 8 });
    const redis = new Redis(SERVICES.redis.url);
    try {
      assert.equal(await redis.get(`${prefix}:app:counter:counter-kim`), "8");
    } finally {
      redis.disconnect();
    }
    a.close();
    b.close();
  });

  it("delivers a group push sent through one server to a member on the other", async () => {
    const [one, two] = servers as [TestServer, TestServer];
    const lee = await connect(two, "group-lee");
    const joined = await one.api("PUT", "/api/v1/realtime/groups/lobby/members/group-lee");
    assert.deepEqual(joined.json, { changed: true, gateways: 1 });
    await lee.next(([h]) => h.msgId === 4, "the join");
    const pushed = await one.api("POST", "/api/v1/push", {
      to: { group: "lobby" },
      msgId: 1500,
      body: "hi",
    });
    assert.equal(pushed.status, 200);
    const [head] = await lee.next(([h]) => h.msgId === 1500, "the group push");
    assert.equal(head.group, "lobby");
    lee.close();
  });

  it("never lets joins racing for a uid's last group place exceed the limit", async () => {
    const member = (group: string) => `/api/v1/realtime/groups/${group}/members/limit-uma`;
    for (let i = 0; i < MAX_GROUPS_PER_UID - 1; i++) {
      assert.equal((await servers[i % 2]!.api("PUT", member(`g${i}`))).status, 200);
    }
    const racing = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => servers[i % 2]!.api("PUT", member(`race${i}`))),
    );
    const joined = racing.filter((a) => a.status === 200).length;
    for (const refused of racing.filter((a) => a.status !== 200)) {
      assert.equal(refused.status, 400);
      assert.match(JSON.stringify(refused.json), /"E_INVALID_REQUEST"/);
      assert.match(JSON.stringify(refused.json), /most it may be in/);
    }
    assert.ok(joined <= 1, `${joined} of the racing joins got in`);
    const { groups } = (await servers[0]!.api("GET", "/api/v1/realtime/users/limit-uma")).json as {
      groups: string[];
    };
    assert.equal(groups.length, MAX_GROUPS_PER_UID - 1 + joined, "refused joins left nothing");
  });

  it("shows both gateways in either server's operations API", async () => {
    await waitFor(async () => {
      const answer = await servers[0]!.api("GET", "/api/v1/realtime/gateways");
      return (answer.json as { gateways: unknown[] }).gateways.length === 2;
    }, "both gateways listed");
  });
});
