/**
 * Chat through the realtime gateway with real gamedock/client connections
 * to `gamedock serve` (embedded defaults): B is offline while A writes; B
 * connects, finds the conversation unread, syncs it in order by pages and
 * acks; a message to B online arrives as a push and by sync alike; a
 * 200-member group's message reaches each connected member once and the
 * others on sync; bad requests are answered with codes and store nothing.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CHAT_PUSH, CHAT_REQUEST as R } from "../../src/chat/index.js";
import { connect, type GamedockClient, type PushHead } from "../../src/client/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { removeDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "chat-realtime-secret-0123456789abcdef0";
const secret = new TextEncoder().encode(SECRET);

interface Seen {
  client: GamedockClient;
  pushes: [unknown, PushHead][];
}
interface Conv {
  conv: string;
  unread: number;
  lastSeq: number;
}
interface Message {
  seq: number;
  sender: string;
  text: string | null;
}

describe("chat over the realtime gateway", () => {
  let server: TestServer;
  const open: Seen[] = [];

  async function client(uid: string): Promise<Seen> {
    const c = connect(server.url, { token: await mintToken(secret, { uid, ttlSeconds: 600 }) });
    const seen: Seen = { client: c, pushes: [] };
    c.on("push", (body, head) => seen.pushes.push([body, head]));
    open.push(seen);
    return seen;
  }
  const messagesOf = (seen: Seen) =>
    seen.pushes
      .filter(([, head]) => head.msgId === CHAT_PUSH.message)
      .map(([body]) => (body as { message: Message }).message);

  before(async () => {
    server = await startTestServer(
      { realtime: { jwtSecret: SECRET }, chat: { sendsPerSecond: 40 } },
      { stages: [] },
    );
  });
  after(async () => {
    await Promise.all(open.map((s) => s.client.close()));
    await server.close();
    await removeDir(server.data);
  });

  it("gives B, offline while A wrote, the conversation unread and its messages in order", async () => {
    const a = await client("ann");
    const { conv } = await a.client.request<Conv>(R.direct, { peer: "bob" });
    for (let k = 1; k <= 25; k++) {
      await a.client.request(R.send, {
        conv,
        clientMsgId: `m${k}`,
        type: "text",
        text: `hello ${k}`,
      });
    }
    // A retry of a message already stored stores nothing new.
    const again = await a.client.request<{ seq: number; repeated: boolean }>(R.send, {
      conv,
      clientMsgId: "m3",
      type: "text",
      text: "hello 3",
    });
    assert.deepEqual([again.seq, again.repeated], [3, true]);

    const b = await client("bob");
    const { conversations } = await b.client.request<{ conversations: Conv[] }>(
      R.conversations,
      {},
    );
    assert.deepEqual(
      conversations.map((c) => [c.conv, c.unread]),
      [[conv, 25]],
    );
    const got: Message[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await b.client.request<{ messages: Message[]; more: boolean }>(R.sync, {
        conv,
        afterSeq,
        limit: 10,
      });
      got.push(...page.messages);
      afterSeq = page.messages.at(-1)?.seq ?? afterSeq;
      await b.client.request(R.ack, { conv, seq: afterSeq });
      if (!page.more) break;
    }
    assert.deepEqual(
      got.map((m) => [m.seq, m.text]),
      Array.from({ length: 25 }, (_, i) => [i + 1, `hello ${i + 1}`]),
    );
    const read = await b.client.request<{ conversations: Conv[] }>(R.conversations, {});
    assert.equal(read.conversations[0]!.unread, 0);

    // Online now: the next message is pushed, and sync has it too.
    await a.client.request(R.send, { conv, clientMsgId: "live", type: "text", text: "you there?" });
    await waitFor(() => messagesOf(b).some((m) => m.text === "you there?"), "the push");
    const tail = await b.client.request<{ messages: Message[] }>(R.sync, { conv, afterSeq: 25 });
    assert.deepEqual(
      tail.messages.map((m) => [m.seq, m.sender]),
      [[26, "ann"]],
    );
  });

  it("sends files as references: uploaded with the user's token (PUT and tus), fetched by B through signed links", async () => {
    const token = (uid: string) => mintToken(secret, { uid, ttlSeconds: 600 });
    const annAuth = { authorization: `Bearer ${await token("fileann")}` };
    const image = randomBytes(300_000);
    const document = randomBytes(123_457);
    // The image through tus: create, then two PATCHes.
    const created = await fetch(`${server.url}/files/`, {
      method: "POST",
      headers: {
        ...annAuth,
        "tus-resumable": "1.0.0",
        "upload-length": String(image.length),
        "upload-metadata": `filename ${Buffer.from("cat.png").toString("base64")},filetype ${Buffer.from("image/png").toString("base64")}`,
      },
    });
    assert.equal(created.status, 201, await created.text());
    const upload = new URL(created.headers.get("location")!, server.url).toString();
    for (const [from, to] of [
      [0, 100_000],
      [100_000, image.length],
    ] as const) {
      const patched = await fetch(upload, {
        method: "PATCH",
        headers: {
          ...annAuth,
          "tus-resumable": "1.0.0",
          "upload-offset": String(from),
          "content-type": "application/offset+octet-stream",
        },
        body: image.subarray(from, to),
      });
      assert.equal(patched.status, 204, await patched.text());
    }
    const imageId = upload.split("/").at(-1)!;
    // The offline file through PUT.
    const put = await fetch(`${server.url}/files/report.pdf`, {
      method: "PUT",
      headers: annAuth,
      body: document,
    });
    assert.equal(put.status, 201);
    const fileId = ((await put.json()) as { id: string }).id;
    // Not bob's to delete; an invalid user token is refused.
    const bobDelete = await fetch(`${server.url}/files/${fileId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${await token("filebob")}` },
    });
    assert.equal(bobDelete.status, 403);
    const forged = await fetch(`${server.url}/files/x.bin`, {
      method: "PUT",
      headers: { authorization: `Bearer ${(await token("x")).slice(0, -4)}AAAA` },
      body: "x",
    });
    assert.equal(forged.status, 401);

    const ann = await client("fileann");
    const { conv } = await ann.client.request<Conv>(R.direct, { peer: "filebob" });
    await ann.client.request(R.send, { conv, clientMsgId: "t", type: "text", text: "two files" });
    await ann.client.request(R.send, {
      conv,
      clientMsgId: "i",
      type: "image",
      file: { id: imageId },
      meta: { width: 640, height: 480 },
    });
    await ann.client.request(R.send, {
      conv,
      clientMsgId: "f",
      type: "file",
      file: { id: fileId },
    });
    // bob comes online afterwards and syncs.
    const bob = await client("filebob");
    const synced = await bob.client.request<{
      messages: (Message & {
        type: string;
        file: { sha256: string; url: string; size: number } | null;
      })[];
    }>(R.sync, { conv, afterSeq: 0 });
    assert.deepEqual(
      synced.messages.map((m) => [m.seq, m.type]),
      [
        [1, "text"],
        [2, "image"],
        [3, "file"],
      ],
    );
    for (const [message, bytes] of [
      [synced.messages[1]!, image],
      [synced.messages[2]!, document],
    ] as const) {
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      assert.deepEqual([message.file!.sha256, message.file!.size], [sha256, bytes.length]);
      assert.match(message.file!.url, /[?&]sig=/);
      const downloaded = await fetch(new URL(message.file!.url, server.url));
      assert.equal(downloaded.status, 200);
      const got = Buffer.from(await downloaded.arrayBuffer());
      assert.equal(createHash("sha256").update(got).digest("hex"), sha256);
    }
    // bob may pass ann's image on in that conversation: it was shared there.
    await bob.client.request(R.send, {
      conv,
      clientMsgId: "fw",
      type: "image",
      file: { id: imageId },
    });
  });

  it("answers bad requests with codes and stores nothing", async () => {
    const eve = await client("eve");
    const ann = await client("ann2");
    const { conv } = await ann.client.request<Conv>(R.direct, { peer: "bob2" });
    const send = { conv, clientMsgId: "x", type: "text", text: "hi" };
    const cases: [number, unknown, string][] = [
      [R.send, send, "E_NOT_MEMBER"],
      [R.sync, { conv, afterSeq: 0 }, "E_NOT_MEMBER"],
      [R.send, { ...send, type: "sticker" }, "E_INVALID_REQUEST"],
      [R.send, { ...send, conv: "../x" }, "E_INVALID_REQUEST"],
      [R.send, { ...send, text: "a\u202eb" }, "E_INVALID_REQUEST"],
      [R.send, { ...send, extra: 1 }, "E_INVALID_REQUEST"],
      [R.direct, { peer: "" }, "E_INVALID_REQUEST"],
    ];
    for (const [msgId, body, expected] of cases) {
      await assert.rejects(
        eve.client.request(msgId, body),
        { code: expected },
        JSON.stringify(body),
      );
    }
    await assert.rejects(ann.client.request(R.send, { ...send, text: "x".repeat(5001) }), {
      code: "E_MESSAGE_TOO_LARGE",
    });
    await assert.rejects(
      ann.client.request(R.send, { ...send, type: "image", file: { id: "nofile" } }),
      {
        code: "E_FILE_NOT_SHARED",
      },
    );
    const view = await ann.client.request<{ conversations: Conv[] }>(R.conversations, {});
    assert.equal(view.conversations[0]!.lastSeq, 0);
  });

  it("refuses sends past chat.sendsPerSecond with E_RATE_LIMITED and stores only what it accepted", async () => {
    const spammer = await client("spammer");
    const { conv } = await spammer.client.request<Conv>(R.direct, { peer: "victim" });
    // 80 at once: under the gateway's burst of frames (100), over chat's 40 a second.
    const outcomes = await Promise.all(
      Array.from({ length: 80 }, (_, k) =>
        spammer.client
          .request(R.send, { conv, clientMsgId: `s${k}`, type: "text", text: "buy now" })
          .then(
            () => "ok",
            (err: unknown) => (err as { code: string }).code,
          ),
      ),
    );
    const accepted = outcomes.filter((o) => o === "ok").length;
    assert.ok(outcomes.includes("E_RATE_LIMITED"), outcomes.join());
    assert.deepEqual(new Set(outcomes), new Set(["ok", "E_RATE_LIMITED"]));
    const view = await spammer.client.request<{ conversations: Conv[] }>(R.conversations, {});
    assert.equal(view.conversations[0]!.lastSeq, accepted);
  });

  it("delivers one group message to each of 200 connected members once, and to the rest on sync", async () => {
    const members = Array.from({ length: 200 }, (_, i) => `m${i}`);
    const owner = await client("owner");
    const { conv } = await owner.client.request<Conv>(R.createGroup, { name: "big", members });
    const online = await Promise.all(members.slice(0, 150).map((uid) => client(uid)));
    await Promise.all(online.map((s) => s.client.request(R.conversations, {}))); // connected
    await owner.client.request(R.send, {
      conv,
      clientMsgId: "hi-all",
      type: "text",
      text: "hi all",
    });
    await waitFor(() => online.every((s) => messagesOf(s).length === 1), "every member's push");
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(
      online.every((s) => messagesOf(s).length === 1),
      "once each",
    );
    const late = await client("m199");
    const synced = await late.client.request<{ messages: Message[] }>(R.sync, {
      conv,
      afterSeq: 0,
    });
    assert.deepEqual(
      synced.messages.map((m) => m.text),
      ["hi all"],
    );
  });
});
