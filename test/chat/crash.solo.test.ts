/**
 * Chat across a logic worker's crash, as processes on real Redis and
 * PostgreSQL: a `gamedock gateway`, two `gamedock logic` workers. A sends
 * 500 messages one after another, retrying each until it is answered,
 * while one worker is killed with SIGKILL mid-way; B, connected through the
 * same gateway with the client's ChatSync, gets each message exactly once,
 * in seq order, and seq order is A's send order. The conversation holds 500
 * messages: no retry stored one twice.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CHAT_REQUEST as R } from "../../src/chat/index.js";
import {
  ChatSync,
  connect,
  type ChatMessage,
  type GamedockClient,
} from "../../src/client/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import {
  kill9,
  logLines,
  spawnCli,
  stopGracefully,
  type CliProcess,
} from "../helpers/processes.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { waitFor } from "../helpers/wait.js";

const skip = (await skipUnlessService("redis")) || (await skipUnlessService("postgres"));
const SECRET = "chat-crash-secret-0123456789abcdef0123";
const MESSAGES = 500;

describe("chat across a logic worker's kill -9", { skip, timeout: 240_000 }, () => {
  const prefix = uniquePrefix("chatcrash");
  const procs: CliProcess[] = [];
  const clients: GamedockClient[] = [];
  let dir = "";
  let config = "";
  let testDb: TestDatabase;

  before(async () => {
    dir = await tempDir("gamedock-chat-crash-");
    testDb = await createTestDatabase("postgres", "chatcrash");
    config = join(dir, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        data: join(dir, "data"),
        log: { level: "info", file: join(dir, "chat.log") },
        server: { port: 0 },
        database: { driver: "postgres", url: (testDb.config as { url: string }).url },
        realtime: {
          bus: { driver: "redis", url: SERVICES.redis.url, prefix },
          jwtSecret: SECRET,
          claimIdleMs: 1500,
          presenceTtlMs: 3000,
          limits: { ratePerSecond: 1000, rateBurst: 1000 },
        },
        chat: { sendsPerSecond: 1000 },
      }),
    );
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(procs.map((p) => stopGracefully(p, 10_000)));
    await dropRedisPrefix(prefix);
    await testDb?.drop();
    await removeDir(dir);
  });

  it("delivers each of 500 messages once, in A's order, though a worker died mid-way", async (t) => {
    const { process: gatewayProc, match } = await spawnCli(
      ["gateway", "--config", config],
      /listening on (http:\/\/\S+)/,
    );
    procs.push(gatewayProc);
    const url = match[1]!;
    const workers: CliProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const { process } = await spawnCli(["logic", "--config", config], /handling group default/);
      procs.push(process);
      workers.push(process);
    }
    const secret = new TextEncoder().encode(SECRET);
    const open = async (uid: string) => {
      const client = connect(url, { token: await mintToken(secret, { uid, ttlSeconds: 600 }) });
      clients.push(client);
      return client;
    };
    const ann = await open("ann");
    const bob = await open("bob");
    const { conv } = await ann.request<{ conv: string }>(
      R.direct,
      { peer: "bob" },
      { timeout: 20_000 },
    );
    const got: ChatMessage[] = [];
    new ChatSync(bob, { onMessage: (m) => got.push(m) });

    /** Sends one message until it is answered; retries count the sends that timed out. */
    let retries = 0;
    const sendOnce = async (client: GamedockClient, body: object): Promise<number> => {
      for (;;) {
        try {
          return (await client.request<{ seq: number }>(R.send, body, { timeout: 4000 })).seq;
        } catch (err) {
          const code = (err as { code?: string }).code;
          // Lost with the killed worker, or still waiting to be claimed: send the same message again.
          if (code !== "E_CLIENT_TIMEOUT" && code !== "E_TIMEOUT") throw err;
          retries++;
        }
      }
    };
    // Others chat meanwhile, so both workers always hold requests: the kill takes some with it.
    let done = false;
    const others = await Promise.all(
      ["cat", "dan", "eve", "fay"].map(async (uid) => {
        const client = await open(uid);
        const { conv: theirs } = await client.request<{ conv: string }>(R.direct, { peer: "bob" });
        return { client, conv: theirs, sent: 0 };
      }),
    );
    const chatter = Promise.all(
      others.map(async (other) => {
        while (!done) {
          other.sent++;
          await sendOnce(other.client, {
            conv: other.conv,
            clientMsgId: `o${other.sent}`,
            type: "text",
            text: `noise ${other.sent}`,
          });
        }
      }),
    );
    let killed: Promise<void> | null = null;
    for (let k = 1; k <= MESSAGES; k++) {
      if (k === 150) killed = kill9(workers[0]!);
      const seq = await sendOnce(ann, {
        conv,
        clientMsgId: `m${k}`,
        type: "text",
        text: `message ${k}`,
      });
      assert.equal(seq, k, `message ${k} took seq ${seq}: A's order is the conversation's`);
    }
    done = true;
    await chatter;
    await killed;
    const of = (id: string) => got.filter((m) => m.conv === id);
    await waitFor(
      () => of(conv).length >= MESSAGES && others.every((o) => of(o.conv).length >= o.sent),
      "B to have every message",
    );
    await new Promise((r) => setTimeout(r, 2000)); // late pushes, or a claimed duplicate, would land now
    assert.deepEqual(
      of(conv).map((m) => m.text),
      Array.from({ length: MESSAGES }, (_, i) => `message ${i + 1}`),
      "each of A's once, in seq order, which is A's order",
    );
    for (const other of others) {
      assert.deepEqual(
        of(other.conv).map((m) => m.seq),
        Array.from({ length: other.sent }, (_, i) => i + 1),
        "and each of the others' once, in order",
      );
    }
    const { conversations } = await bob.request<{
      conversations: { conv: string; lastSeq: number }[];
    }>(R.conversations, {});
    const lastSeq = (id: string) => conversations.find((c) => c.conv === id)!.lastSeq;
    assert.equal(lastSeq(conv), MESSAGES, "no retry stored a message twice");
    for (const other of others) {
      assert.equal(lastSeq(other.conv), other.sent, "nor one of the others'");
    }
    const claimed = (await logLines(join(dir, "chat.log"))).filter(
      (l) => l.event === "requests-claimed",
    );
    assert.ok(claimed.length > 0, "the surviving worker took over requests the killed one held");
    t.diagnostic(`sends retried after a timeout: ${retries}`);
  });
});
