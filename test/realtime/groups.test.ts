/**
 * Application groups, the operations API and handler services, through
 * serve (memory bus): joins and leaves by HTTP and by handlers, group
 * pushes written once and delivered to members only, resume of missed
 * group pushes, kicks (4403), gateway and logic-group status, and the
 * services a module declares.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mintToken } from "../../src/realtime/index.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";
import { openSocket, type Frame, type TestSocket } from "./ws-client.js";

const SECRET = "groups-test-secret-0123456789abcdef0123";
const secret = new TextEncoder().encode(SECRET);
const FIXTURES = join(import.meta.dirname, "fixtures");

interface Welcome {
  groups: Record<string, { epoch: string; offset: number }>;
  recovered: boolean;
}

describe("application groups, operations and handler services", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      realtime: {
        jwtSecret: SECRET,
        presenceTtlMs: 3000,
        handlers: [join(FIXTURES, "service-handlers.ts")],
      },
    });
  });
  after(() => server.close());

  const connect = async (uid: string, query = "") => {
    const token = await mintToken(secret, { uid, ttlSeconds: 600 });
    const ws = await openSocket(server.url, { token, query });
    const [, welcome] = await ws.next(([h]) => h.msgId === 1, "the welcome");
    return { ws, welcome: welcome as Welcome };
  };
  const ok = async (method: string, path: string, body?: unknown) => {
    const answer = await server.api(method, path, body);
    assert.equal(answer.status, 200, `${method} ${path}: ${JSON.stringify(answer.json)}`);
    return answer.json as Record<string, unknown>;
  };
  const member = (group: string, uid: string) =>
    `/api/v1/realtime/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(uid)}`;
  const groupPushes = (ws: TestSocket, group: string): Frame[] =>
    ws.frames.filter(([h]) => h.stream === "group" && h.group === group);

  it("pushes to a group once, to its members only, and follows joins and leaves", async () => {
    const ann = await connect("g-ann");
    const ben = await connect("g-ben");
    const cid = await connect("g-cid");
    assert.deepEqual(await ok("PUT", member("match:7", "g-ann")), { changed: true, gateways: 1 });
    assert.deepEqual(await ok("PUT", member("match:7", "g-ann")), { changed: false, gateways: 0 });
    // A handler joins its caller too (ctx.groups).
    await ben.ws.request(1201, { group: "match:7" }, 1);
    for (const { ws } of [ann, ben]) {
      const [, joined] = await ws.next(([h]) => h.msgId === 4, "the membership frame");
      assert.deepEqual(Object.keys((joined as { joined: object }).joined), ["match:7"]);
    }

    const first = (await ok("POST", "/api/v1/push", {
      to: { group: "match:7" },
      msgId: 1500,
      body: { score: "1:0" },
    })) as { groupOffset: number; gateways: number };
    assert.equal(first.gateways, 1, "one bus entry for the gateway, whatever the members");
    for (const { ws } of [ann, ben]) {
      const [head, body] = await ws.next(([h]) => h.msgId === 1500, "the group push");
      assert.deepEqual(head, {
        msgId: 1500,
        push: true,
        stream: "group",
        group: "match:7",
        offset: first.groupOffset,
      });
      assert.deepEqual(body, { score: "1:0" });
    }
    // ben leaves by handler; the next push reaches ann alone, one offset further.
    await ben.ws.request(1201, { group: "match:7", leave: true }, 2);
    await ben.ws.next(
      ([h, b]) => h.msgId === 4 && (b as { left: string[] }).left.includes("match:7"),
      "the leave",
    );
    const [, second] = await ann.ws.request(1202, { group: "match:7", body: "2:0" }, 3);
    assert.equal((second as { groupOffset: number }).groupOffset, first.groupOffset + 1);
    await ann.ws.next(([h]) => h.msgId === 1250, "the handler's group push");
    assert.equal(groupPushes(ben.ws, "match:7").length, 1, "ben got nothing after leaving");
    assert.equal(groupPushes(cid.ws, "match:7").length, 0, "cid was never a member");
    for (const c of [ann, ben, cid]) c.ws.close();
  });

  it("replays the group pushes a member missed while away, in order and once", async () => {
    await ok("PUT", member("room-r", "r-dan"), undefined);
    const first = await connect("r-dan");
    const point = first.welcome.groups["room-r"];
    assert.ok(point, "the welcome names the member's groups");
    first.ws.close();
    await first.ws.closed;
    for (let i = 1; i <= 3; i++) {
      await ok("POST", "/api/v1/push", { to: { group: "room-r" }, msgId: 1600, body: i });
    }
    const groups = encodeURIComponent(JSON.stringify({ "room-r": point }));
    const again = await connect("r-dan", `groups=${groups}`);
    assert.equal(again.welcome.recovered, true);
    await again.ws.next(([, b]) => b === 3, "the last missed push");
    const got = groupPushes(again.ws, "room-r").map(([h, b]) => [h.offset, b]);
    assert.deepEqual(got, [
      [point.offset + 1, 1],
      [point.offset + 2, 2],
      [point.offset + 3, 3],
    ]);
    assert.equal(again.welcome.groups["room-r"]?.offset, point.offset + 3);
    // A newcomer to the group (joined later) gets none of what came before.
    const newcomer = await connect("r-eve");
    await ok("PUT", member("room-r", "r-eve"));
    await newcomer.ws.next(([h]) => h.msgId === 4, "eve's join");
    await ok("POST", "/api/v1/push", { to: { group: "room-r" }, msgId: 1600, body: 4 });
    await newcomer.ws.next(([, b]) => b === 4, "the push after the join");
    assert.deepEqual(
      groupPushes(newcomer.ws, "room-r").map(([, b]) => b),
      [4],
    );
    again.ws.close();
    newcomer.ws.close();
  });

  it("replays a group's history only to its members, whatever ?groups= names", async () => {
    await ok("PUT", member("secret-room", "s-owner"));
    const owner = await connect("s-owner");
    const point = owner.welcome.groups["secret-room"]!;
    await ok("POST", "/api/v1/push", { to: { group: "secret-room" }, msgId: 1600, body: "x" });
    const groups = encodeURIComponent(
      JSON.stringify({ "secret-room": { epoch: point.epoch, offset: 0 } }),
    );
    const spy = await connect("s-spy", `groups=${groups}`);
    assert.deepEqual(spy.welcome.groups, {});
    await ok("POST", "/api/v1/push", { to: { group: "secret-room" }, msgId: 1600, body: "y" });
    await owner.ws.next(([, b]) => b === "y", "the owner's live push");
    assert.equal(groupPushes(spy.ws, "secret-room").length, 0, "nothing reached a non-member");
    owner.ws.close();
    spy.ws.close();
  });

  it("refuses bad group names and targets with 400 naming the field", async () => {
    const bad = await server.api("PUT", member("a\u202Eb", "x"));
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.json), /group.*bidirectional/);
    const long = await server.api("PUT", member("g".repeat(129), "x"));
    assert.equal(long.status, 400);
    const push = await server.api("POST", "/api/v1/push", {
      to: { group: "" },
      msgId: 1500,
      body: 1,
    });
    assert.equal(push.status, 400);
    assert.match(JSON.stringify(push.json), /to\.group/);
  });

  it("lists gateways with their connections and logic groups with their backlog", async () => {
    const fay = await connect("ops-fay");
    type Gateways = {
      gateways: { gatewayId: string; connections: number; listed: { uid: string }[] }[];
    };
    const gateways = async () =>
      ((await ok("GET", "/api/v1/realtime/gateways")) as Gateways).gateways;
    assert.equal((await gateways()).length, 1);
    // The status record is rewritten at each presence refresh (a third of presenceTtlMs).
    await waitFor(
      async () => (await gateways())[0]?.listed.some((c) => c.uid === "ops-fay") ?? false,
      "the connection in the gateway's status",
    );
    const { groups } = (await ok("GET", "/api/v1/realtime/logic-groups")) as {
      groups: { group: string; pending: number; lag: number; consumers: { alive: boolean }[] }[];
    };
    const def = groups.find((g) => g.group === "default");
    assert.ok(def, JSON.stringify(groups));
    assert.equal(def.lag, 0);
    assert.equal(def.consumers.length, 1);
    assert.equal(def.consumers[0]?.alive, true);
    const user = await ok("GET", "/api/v1/realtime/users/ops-fay");
    assert.deepEqual(user.gateways, [(await gateways())[0]!.gatewayId]);
    fay.ws.close();
  });

  it("kicks a uid: every connection of it closes with 4403 and the reason", async () => {
    const one = await connect("kick-gus");
    const two = await connect("kick-gus");
    const other = await connect("kick-hal");
    const answer = await ok("POST", "/api/v1/realtime/users/kick-gus/kick", { reason: "cheating" });
    assert.equal(answer.gateways, 1);
    for (const { ws } of [one, two])
      assert.deepEqual(await ws.closed, { code: 4403, reason: "cheating" });
    assert.deepEqual(await other.ws.request(1200, null, 1).then(([h]) => h.code), 0);
    const tooLong = await server.api("POST", "/api/v1/realtime/users/kick-gus/kick", {
      reason: "x".repeat(101),
    });
    assert.equal(tooLong.status, 400);
    const bidi = await server.api("POST", "/api/v1/realtime/users/kick-gus/kick", {
      reason: "ok\u202Eevil",
    });
    assert.equal(bidi.status, 400);
    assert.match(JSON.stringify(bidi.json), /reason.*bidirectional/);
    other.ws.close();
  });

  it("gives a module the services it declared: the database, files; no Redis on the memory bus", async () => {
    const { ws } = await connect("svc-ida");
    const [head, body] = await ws.request(1200, null, 1);
    assert.equal(head.code, 0);
    assert.deepEqual(body, { services: ["db", "files"], one: 1 });
    const put = await fetch(`${server.url}/files/notes.txt`, { method: "PUT", body: "hello" });
    assert.equal(put.status, 201);
    const { id } = (await put.json()) as { id: string };
    const [, described] = await ws.request(1203, { id }, 2);
    const { file, url } = described as { file: { name: string; size: number }; url: string };
    assert.equal(file.name, "notes.txt");
    assert.equal(file.size, 5);
    const download = await fetch(`${server.url}${url}`);
    assert.equal(await download.text(), "hello");
    const [, missing] = await ws.request(1203, { id: "no-such-file" }, 3);
    assert.equal((missing as { file: unknown }).file, null);
    ws.close();
  });

  it("refuses to start a module that requires a service the process cannot give", async () => {
    await assert.rejects(
      startTestServer({
        realtime: { jwtSecret: SECRET, handlers: [join(FIXTURES, "needs-redis.ts")] },
      }),
      { code: "E_CONFIG", message: /"needs-redis" requires the redis service.*realtime\.bus/ },
    );
  });
});
