/**
 * Chat's operations API for support staff (/api/v1/chat) on every database:
 * stats (conversations by kind, messages, the last 14 UTC days, the unread
 * backlog), the conversations most recently active first with keyset pages,
 * kind and q filters (LIKE characters taken literally, uids exactly), and a
 * conversation's history newest first — a file as a signed link (never
 * bytes), a recalled message without text, names and texts verbatim. Bad
 * parameters are 400 naming the field, an unknown conversation 404. Then
 * inside a real `serve`: the routes are there, behind the API token, and a
 * file sent over the gateway downloads through the link the history gives.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import {
  CHAT_REQUEST as R,
  ChatAdmin,
  Conversations,
  Messages,
  registerChatAdminRoutes,
  type AdminConversation,
  type AdminMessage,
  type ChatStats,
} from "../../src/chat/index.js";
import { connect, type GamedockClient } from "../../src/client/index.js";
import { createLogger } from "../../src/core/index.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { createHttpServer } from "../../src/server/http.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { filesOf } from "./file-lookup.js";

const LIMITS = {
  maxTextLength: 100,
  maxMessageBytes: 400,
  recallWindowMs: 60_000,
  fileUrlTtlSeconds: 3600,
};
const EVIL_NAME = "Team <img src=x onerror=alert(1)>";
const EVIL_TEXT = "<script>alert('hi')</script> & \"quotes\"";

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

for (const target of DATABASE_TARGETS) {
  describe(`chat operations API on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let dir: string;
    let app: FastifyInstance;
    let now = Date.parse("2026-11-20T08:00:00Z");
    const clock = () => now;
    const convs: Record<"annBob" | "team" | "sale" | "catDan", string> = {
      annBob: "",
      team: "",
      sale: "",
      catDan: "",
    };

    const get = async (url: string): Promise<Answer> => {
      const response = await app.inject({ method: "GET", url });
      return { status: response.statusCode, json: response.json() };
    };
    const ok = async <T>(url: string): Promise<T> => {
      const answer = await get(url);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      return answer.json as T;
    };
    const list = (query = "") =>
      ok<{ conversations: AdminConversation[]; nextCursor: string | null }>(
        `/api/v1/chat/conversations${query}`,
      );
    const history = (conv: string, query = "") =>
      ok<{ messages: AdminMessage[]; more: boolean }>(
        `/api/v1/chat/conversations/${conv}/messages${query}`,
      );

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "chatadmin");
      database = await openDatabase(testDb.config);
      dir = await tempDir("gamedock-chat-admin-");
      const conversations = new Conversations(database, 50, clock);
      const messages = new Messages(
        database,
        conversations,
        filesOf({ img2: "uid:bob" }),
        LIMITS,
        clock,
      );
      const logger = await createLogger({ level: "warn", file: join(dir, "gamedock.log") });
      app = createHttpServer({ logger, tokens: [], bodyLimit: 1024 * 1024 });
      registerChatAdminRoutes(app, new ChatAdmin(database, messages, clock));
      await app.ready();

      const text = (uid: string, conv: string, id: string, body: string) =>
        messages.send(uid, { conv, clientMsgId: id, type: "text", text: body });
      // 20 days before "today" (2026-12-10): outside the 14 days of messagesByDay.
      convs.annBob = (await conversations.direct("ann", "bob")).conv;
      await text("ann", convs.annBob, "o1", "old 1");
      await text("ann", convs.annBob, "o2", "old 2");
      // The first of the 14 days.
      now = Date.parse("2026-11-27T09:00:00Z");
      convs.team = (await conversations.createGroup("ann", EVIL_NAME, ["bob", "cat"])).conv;
      await text("ann", convs.team, "t1", EVIL_TEXT);
      now = Date.parse("2026-12-09T10:00:00Z");
      convs.sale = (await conversations.createGroup("dan", "100%_off!", ["eve"])).conv;
      for (const k of [1, 2, 3]) await text("dan", convs.sale, `s${k}`, `sale ${k}`);
      await messages.ack("eve", convs.sale, 1);
      // Today: a direct conversation without messages, then bob's image, a recalled text and one more.
      now = Date.parse("2026-12-10T09:00:00Z");
      convs.catDan = (await conversations.direct("cat", "dan")).conv;
      now = Date.parse("2026-12-10T09:30:00Z");
      await messages.send("bob", {
        conv: convs.annBob,
        clientMsgId: "img",
        type: "image",
        file: { id: "img2" },
        meta: { width: 640 },
      });
      const secret = await text("bob", convs.annBob, "oops", "wrong chat");
      await messages.recall("bob", convs.annBob, secret.seq);
      await text("bob", convs.annBob, "after", "sorry");
      now = Date.parse("2026-12-10T10:00:00Z");
    });
    after(async () => {
      await app?.close();
      await database?.close();
      await testDb?.drop();
      if (dir) await removeDir(dir);
    });

    it("counts conversations, messages by UTC day and the unread backlog", async () => {
      const stats = await ok<ChatStats>("/api/v1/chat/stats");
      assert.deepEqual(stats.conversations, { direct: 2, group: 2 });
      assert.equal(stats.messages, 9);
      assert.equal(stats.messagesByDay.length, 14);
      assert.deepEqual(stats.messagesByDay[0], { day: "2026-11-27", count: 1 });
      assert.deepEqual(stats.messagesByDay.at(-2), { day: "2026-12-09", count: 3 });
      assert.deepEqual(stats.messagesByDay.at(-1), { day: "2026-12-10", count: 3 });
      assert.equal(
        stats.messagesByDay.reduce((sum, d) => sum + d.count, 0),
        7,
        "the two older messages are outside the 14 days",
      );
      // ann 3 (bob's three), bob 1 and cat 1 (the team's), eve 2 (she read the first sale).
      assert.deepEqual(stats.backlog, { unread: 7, users: 4 });
    });

    it("lists conversations most recently active first, names verbatim", async () => {
      const { conversations, nextCursor } = await list();
      assert.equal(nextCursor, null);
      assert.deepEqual(
        conversations.map((c) => c.conv),
        [convs.annBob, convs.catDan, convs.sale, convs.team],
      );
      const [annBob, catDan, sale, team] = conversations;
      assert.deepEqual(annBob, {
        conv: convs.annBob,
        kind: "direct",
        name: null,
        members: 2,
        lastSeq: 5,
        createdAt: "2026-11-20T08:00:00.000Z",
        lastMessageAt: "2026-12-10T09:30:00.000Z",
      });
      assert.deepEqual(
        [catDan!.lastSeq, catDan!.lastMessageAt, catDan!.createdAt],
        [0, null, "2026-12-10T09:00:00.000Z"],
      );
      assert.deepEqual([sale!.name, sale!.members, sale!.lastSeq], ["100%_off!", 2, 3]);
      assert.equal(team!.name, EVIL_NAME, "returned as stored: escaping is the page's job");
    });

    it("pages by cursor without gaps or repeats", async () => {
      const all = (await list()).conversations.map((c) => c.conv);
      const paged: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const query: string = `?limit=1${cursor ? `&cursor=${cursor}` : ""}`;
        const answer = await list(query);
        assert.ok(answer.conversations.length <= 1);
        paged.push(...answer.conversations.map((c) => c.conv));
        cursor = answer.nextCursor;
        if (cursor === null) break;
      }
      assert.deepEqual(paged, all);
      const firstTwo = await list("?limit=2");
      assert.equal(firstTwo.conversations.length, 2);
      const rest = await list(`?limit=2&cursor=${firstTwo.nextCursor}`);
      assert.deepEqual(
        rest.conversations.map((c) => c.conv),
        all.slice(2),
      );
      assert.equal(rest.nextCursor, null);
    });

    it("filters by kind, a group name's substring (literally) or a member uid", async () => {
      const ids = async (query: string) => (await list(query)).conversations.map((c) => c.conv);
      assert.deepEqual(await ids("?kind=group"), [convs.sale, convs.team]);
      assert.deepEqual(await ids("?kind=direct"), [convs.annBob, convs.catDan]);
      assert.deepEqual(await ids(`?q=${encodeURIComponent("IMG src=x")}`), [convs.team]);
      // LIKE's own characters match only themselves.
      for (const q of ["%", "_", "!", "0%_o", "%_off!"]) {
        assert.deepEqual(await ids(`?q=${encodeURIComponent(q)}`), [convs.sale], q);
      }
      assert.deepEqual(await ids(`?q=${encodeURIComponent("0x_o")}`), []);
      // A uid matches its conversations exactly; a part of one matches nothing.
      assert.deepEqual(await ids("?q=cat"), [convs.catDan, convs.team]);
      assert.deepEqual(await ids("?q=ca"), []);
      assert.deepEqual(await ids("?q=bob&kind=direct"), [convs.annBob]);
      assert.deepEqual(await ids("?q="), await ids(""), "an empty q filters nothing");
    });

    it("gives a conversation's history newest first: file links, recalled without text", async () => {
      const page = await history(convs.annBob);
      assert.equal(page.more, false);
      assert.deepEqual(
        page.messages.map((m) => [m.seq, m.sender, m.type, m.text, m.recalled]),
        [
          [5, "bob", "text", "sorry", false],
          [4, "bob", "text", null, true],
          [3, "bob", "image", null, false],
          [2, "ann", "text", "old 2", false],
          [1, "ann", "text", "old 1", false],
        ],
      );
      const image = page.messages[2]!;
      assert.deepEqual(image.file, {
        id: "img2",
        name: "img2.png",
        url: "/files/img2?expires=3600&sig=x",
      });
      assert.equal(image.ts, "2026-12-10T09:30:00.000Z");
      assert.equal(page.messages[1]!.file, null);
      assert.deepEqual(Object.keys(page.messages[0]!).sort(), [
        "file",
        "recalled",
        "sender",
        "seq",
        "text",
        "ts",
        "type",
      ]);
      const team = await history(convs.team);
      assert.equal(team.messages[0]!.text, EVIL_TEXT, "verbatim");
    });

    it("pages the history with beforeSeq and limit", async () => {
      const first = await history(convs.annBob, "?limit=2");
      assert.deepEqual([first.messages.map((m) => m.seq), first.more], [[5, 4], true]);
      const next = await history(convs.annBob, "?beforeSeq=4&limit=2");
      assert.deepEqual([next.messages.map((m) => m.seq), next.more], [[3, 2], true]);
      const last = await history(convs.annBob, "?beforeSeq=2&limit=2");
      assert.deepEqual([last.messages.map((m) => m.seq), last.more], [[1], false]);
      const none = await history(convs.catDan);
      assert.deepEqual(none, { messages: [], more: false });
    });

    it("refuses bad parameters with 400 naming the field, and unknown conversations with 404", async () => {
      const cases: [string, string][] = [
        ["/api/v1/chat/conversations?kind=channel", "kind"],
        ["/api/v1/chat/conversations?kind=group&kind=direct", "kind"],
        ["/api/v1/chat/conversations?limit=0", "limit"],
        ["/api/v1/chat/conversations?limit=201", "limit"],
        ["/api/v1/chat/conversations?limit=ten", "limit"],
        ["/api/v1/chat/conversations?cursor=bm9wZQ", "cursor"],
        ["/api/v1/chat/conversations?cursor=%25%25", "cursor"],
        [`/api/v1/chat/conversations?q=${encodeURIComponent("a\u0001b")}`, "q"],
        [`/api/v1/chat/conversations?q=${encodeURIComponent("a\u202eb")}`, "q"],
        [`/api/v1/chat/conversations?q=${"x".repeat(129)}`, "q"],
        [`/api/v1/chat/conversations/${convs.annBob}/messages?beforeSeq=-1`, "beforeSeq"],
        [`/api/v1/chat/conversations/${convs.annBob}/messages?beforeSeq=1.5`, "beforeSeq"],
        [`/api/v1/chat/conversations/${convs.annBob}/messages?limit=500`, "limit"],
      ];
      for (const [url, field] of cases) {
        const answer = await get(url);
        assert.equal(answer.status, 400, url);
        const error = answer.json.error as { code: string; details?: { field?: string } };
        assert.equal(error.code, "E_INVALID_REQUEST", url);
        assert.equal(error.details?.field, field, url);
      }
      const unknown = `cg${Date.now().toString(36)}-0123456789`;
      for (const conv of [unknown, "nope", encodeURIComponent("<img src=x>")]) {
        const answer = await get(`/api/v1/chat/conversations/${conv}/messages`);
        assert.equal(answer.status, 404, conv);
        assert.equal((answer.json.error as { code: string }).code, "E_NOT_FOUND");
      }
    });
  });
}

describe("chat operations API in serve", () => {
  const SECRET = "chat-admin-secret-0123456789abcdef00";
  const API_TOKEN = "chat-admin-api-token-0123456789";
  let server: TestServer;
  const clients: GamedockClient[] = [];
  const token = (uid: string) =>
    mintToken(new TextEncoder().encode(SECRET), { uid, ttlSeconds: 600 });
  const staff = { authorization: `Bearer ${API_TOKEN}` };

  before(async () => {
    server = await startTestServer(
      { realtime: { jwtSecret: SECRET }, server: { tokens: [API_TOKEN] } },
      { stages: [] },
    );
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    await removeDir(server.data);
  });

  it("needs the API token", async () => {
    for (const path of ["/api/v1/chat/stats", "/api/v1/chat/conversations"]) {
      const refused = await fetch(`${server.url}${path}`);
      assert.equal(refused.status, 401, path);
      const user = await fetch(`${server.url}${path}`, {
        headers: { authorization: `Bearer ${await token("ann")}` },
      });
      assert.equal(user.status, 401, `${path}: a user's realtime token is not staff`);
      assert.equal((await fetch(`${server.url}${path}`, { headers: staff })).status, 200, path);
    }
  });

  it("links a file sent over the gateway, and the link downloads it", async () => {
    const bytes = randomBytes(50_000);
    const put = await fetch(`${server.url}/files/photo.png`, {
      method: "PUT",
      headers: { authorization: `Bearer ${await token("zoe")}` },
      body: bytes,
    });
    assert.equal(put.status, 201, await put.clone().text());
    const fileId = ((await put.json()) as { id: string }).id;
    const zoe = connect(server.url, { token: await token("zoe") });
    clients.push(zoe);
    const { conv } = await zoe.request<{ conv: string }>(R.createGroup, {
      name: "photos",
      members: ["yan"],
    });
    await zoe.request(R.send, { conv, clientMsgId: "p", type: "image", file: { id: fileId } });

    const response = await fetch(`${server.url}/api/v1/chat/conversations/${conv}/messages`, {
      headers: staff,
    });
    assert.equal(response.status, 200);
    const { messages } = (await response.json()) as { messages: AdminMessage[] };
    assert.equal(messages.length, 1);
    const file = messages[0]!.file!;
    assert.deepEqual([file.id, file.name], [fileId, "photo.png"]);
    assert.match(file.url, /[?&]sig=/);
    // The signed link needs no API token.
    const downloaded = await fetch(new URL(file.url, server.url));
    assert.equal(downloaded.status, 200);
    const got = Buffer.from(await downloaded.arrayBuffer());
    assert.equal(
      createHash("sha256").update(got).digest("hex"),
      createHash("sha256").update(bytes).digest("hex"),
    );

    const listed = await fetch(`${server.url}/api/v1/chat/conversations?q=yan`, {
      headers: staff,
    });
    const { conversations } = (await listed.json()) as { conversations: AdminConversation[] };
    assert.deepEqual(
      conversations.map((c) => [c.conv, c.name, c.members, c.lastSeq]),
      [[conv, "photos", 2, 1]],
    );
  });
});

describe("chat operations API with chat disabled", () => {
  it("is not served", async () => {
    const server = await startTestServer({ chat: { enabled: false } }, { stages: [] });
    try {
      const { status, json } = await server.api("GET", "/api/v1/chat/stats");
      assert.equal(status, 404);
      assert.equal((json as { error: { code: string } }).error.code, "E_NOT_FOUND");
    } finally {
      await server.close();
      await removeDir(server.data);
    }
  });
});
