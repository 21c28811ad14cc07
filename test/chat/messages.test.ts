/**
 * Chat in SQL on every database: one direct conversation per pair (also
 * when both sides open it at once); groups with an owner, a member limit
 * and leaving; messages with gapless seqs while many are sent at once,
 * idempotent by clientMsgId (also racing), members only; files only the
 * sender's or already shared in the conversation, delivered as a signed
 * link and never as bytes; sync pages by seq; acks move the read cursor
 * forward only; recall within the window; limits refused with codes and
 * nothing stored.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Conversations, Messages, type MessageView } from "../../src/chat/index.js";
import { GamedockError } from "../../src/core/index.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { filesOf } from "./file-lookup.js";

const LIMITS = {
  maxTextLength: 100,
  maxMessageBytes: 400,
  recallWindowMs: 60_000,
  fileUrlTtlSeconds: 3600,
};

const code = (expected: string) => (err: unknown) => {
  assert.ok(err instanceof GamedockError, String(err));
  assert.equal(err.code, expected, err.message);
  return true;
};

for (const target of DATABASE_TARGETS) {
  describe(`chat in SQL on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let now = Date.parse("2026-12-01T10:00:00Z");
    let conversations: Conversations;
    let messages: Messages;

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "chat");
      database = await openDatabase(testDb.config);
      conversations = new Conversations(database, 5, () => now);
      messages = new Messages(
        database,
        conversations,
        filesOf({ img1: "uid:ann", img2: "uid:bob", gone: "uid:ann" }),
        LIMITS,
        () => now,
      );
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("keeps one direct conversation per pair, also when both open it at once", async () => {
      const [a, b] = await Promise.all([
        conversations.direct("ann", "bob"),
        conversations.direct("bob", "ann"),
      ]);
      assert.equal(a.conv, b.conv);
      assert.deepEqual([a.peer, b.peer, a.kind, a.members], ["bob", "ann", "direct", 2]);
      await assert.rejects(conversations.direct("ann", "ann"), code("E_INVALID_REQUEST"));
    });

    it("gives gapless seqs in one order while many messages are sent at once, each clientMsgId once", async () => {
      const { conv } = await conversations.createGroup("ann", "team", ["bob", "cat"]);
      const sends = ["ann", "bob", "cat"].flatMap((uid) =>
        Array.from({ length: 15 }, (_, k) =>
          messages.send(uid, {
            conv,
            clientMsgId: `${uid}-${k}`,
            type: "text",
            text: `${uid} ${k}`,
          }),
        ),
      );
      // Every send of bob's also raced by a retry of itself.
      const retries = Array.from({ length: 15 }, (_, k) =>
        messages.send("bob", { conv, clientMsgId: `bob-${k}`, type: "text", text: `bob ${k}` }),
      );
      const sent = await Promise.all([...sends, ...retries]);
      const seqs = sent.slice(0, 45).map((s) => s.seq);
      assert.deepEqual(
        [...seqs].sort((x, y) => x - y),
        Array.from({ length: 45 }, (_, i) => i + 1),
        "gapless, each seq once",
      );
      for (let k = 0; k < 15; k++) assert.equal(sent[45 + k]!.seq, sent[15 + k]!.seq);
      const synced: MessageView[] = [];
      let afterSeq = 0;
      for (;;) {
        const page = await messages.after("cat", conv, afterSeq, 10);
        synced.push(...page.messages);
        afterSeq = page.messages.at(-1)?.seq ?? afterSeq;
        if (!page.more) break;
      }
      assert.deepEqual(
        synced.map((m) => m.seq),
        Array.from({ length: 45 }, (_, i) => i + 1),
      );
      // A sender has read what it sent: cat's unread are the messages after its last one.
      const catLast = Math.max(...sent.slice(30, 45).map((s) => s.seq));
      const view = await conversations.view("cat", conv);
      assert.deepEqual([view.lastSeq, view.readSeq, view.unread], [45, catLast, 45 - catLast]);
    });

    it("lets only members send or read, and refuses bad content storing nothing", async () => {
      const { conv } = await conversations.direct("ann", "dan");
      const send = (uid: string, body: object) =>
        messages.send(uid, { conv, clientMsgId: "x", type: "text", text: "hi", ...body });
      await assert.rejects(send("eve", {}), code("E_NOT_MEMBER"));
      await assert.rejects(messages.after("eve", conv, 0, 10), code("E_NOT_MEMBER"));
      await assert.rejects(send("ann", { text: "x".repeat(101) }), code("E_MESSAGE_TOO_LARGE"));
      await assert.rejects(
        send("ann", { meta: { big: "y".repeat(400) } }),
        code("E_MESSAGE_TOO_LARGE"),
      );
      await assert.rejects(send("ann", { text: "" }), code("E_INVALID_REQUEST"));
      await assert.rejects(send("ann", { type: "image" }), code("E_INVALID_REQUEST"));
      await assert.rejects(send("ann", { file: { id: "img1" } }), code("E_INVALID_REQUEST"));
      await assert.rejects(
        send("ann", { type: "image", file: { id: "img2" } }),
        code("E_FILE_NOT_SHARED"),
      );
      await assert.rejects(
        send("ann", { type: "file", file: { id: "nope" } }),
        code("E_FILE_NOT_SHARED"),
      );
      assert.equal((await conversations.view("ann", conv)).lastSeq, 0, "nothing stored");
    });

    it("delivers a file as a reference with a fresh signed link; once shared, others may pass it on", async () => {
      const { conv } = await conversations.createGroup("ann", "pics", ["bob"]);
      await messages.send("ann", {
        conv,
        clientMsgId: "p1",
        type: "image",
        file: { id: "img1" },
        meta: { w: 640 },
      });
      const [m] = (await messages.after("bob", conv, 0, 10)).messages;
      assert.deepEqual(m!.file, {
        id: "img1",
        name: "img1.png",
        size: 1234,
        contentType: "image/png",
        sha256: "ab".repeat(32),
        url: "/files/img1?expires=3600&sig=x",
      });
      assert.deepEqual(m!.meta, { w: 640 });
      // bob forwards ann's image: shared in this conversation already.
      const forwarded = await messages.send("bob", {
        conv,
        clientMsgId: "f1",
        type: "image",
        file: { id: "img1" },
      });
      assert.equal(forwarded.seq, 2);
      const other = await conversations.direct("bob", "cat");
      await assert.rejects(
        messages.send("bob", {
          conv: other.conv,
          clientMsgId: "f2",
          type: "image",
          file: { id: "img1" },
        }),
        code("E_FILE_NOT_SHARED"),
      );
    });

    it("moves the read cursor forward only, and recalls within the window", async () => {
      const { conv } = await conversations.direct("ann", "fay");
      for (let k = 0; k < 3; k++) {
        await messages.send("ann", { conv, clientMsgId: `r${k}`, type: "text", text: `m${k}` });
      }
      assert.equal((await messages.ack("fay", conv, 2)).readSeq, 2);
      assert.equal((await messages.ack("fay", conv, 1)).readSeq, 2, "never back");
      assert.equal((await messages.ack("fay", conv, 99)).readSeq, 3, "never past the last");
      await assert.rejects(messages.recall("fay", conv, 1), code("E_RECALL_EXPIRED"));
      const recalled = await messages.recall("ann", conv, 1);
      assert.deepEqual([recalled.recalled, recalled.text], [true, null]);
      now += 60_001;
      await assert.rejects(messages.recall("ann", conv, 2), code("E_RECALL_EXPIRED"));
      const history = await messages.before("fay", conv, 4, 10);
      assert.deepEqual(
        history.map((m) => [m.seq, m.text, m.recalled]),
        [
          [3, "m2", false],
          [2, "m1", false],
          [1, null, true],
        ],
      );
    });

    it("keeps a group under its member limit; only the owner adds; members leave, the owner cannot", async () => {
      const group = await conversations.createGroup("gus", "five", ["a1", "a2"]);
      await assert.rejects(
        conversations.addMembers("a1", group.conv, ["a3"]),
        code("E_NO_PERMISSION"),
      );
      await assert.rejects(
        conversations.addMembers("gus", group.conv, ["a3", "a4", "a5"]),
        code("E_GROUP_FULL"),
      );
      const grown = await conversations.addMembers("gus", group.conv, ["a3", "a4", "a1"]);
      assert.equal(grown.members, 5);
      await conversations.removeMember("a4", group.conv, "a4");
      await assert.rejects(
        conversations.removeMember("gus", group.conv, "gus"),
        code("E_INVALID_REQUEST"),
      );
      await assert.rejects(
        conversations.removeMember("a1", group.conv, "a2"),
        code("E_NO_PERMISSION"),
      );
      await conversations.removeMember("gus", group.conv, "a2");
      const left = await conversations.members("gus", group.conv);
      assert.deepEqual(
        left.map((m) => m.uid),
        ["a1", "a3", "gus"],
      );
      assert.equal((await conversations.view("gus", group.conv)).members, 3);
      await assert.rejects(
        conversations.createGroup("big", "six", ["1", "2", "3", "4", "5"]),
        code("E_GROUP_FULL"),
      );
    });
  });
}
