/**
 * The client's chat helper (ChatSync) against a real `gamedock serve`:
 * messages sent while the receiver was offline arrive once each, in order,
 * on connect; live pushes arrive once each; after the network drops (a TCP
 * proxy the test cuts) and messages are sent meanwhile, the reconnect's
 * sync fills the gap without a duplicate; a helper started on a new client
 * with kept positions gets only what is new.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CHAT_PUSH, CHAT_REQUEST } from "../../src/chat/index.js";
import {
  CHAT_MSG,
  ChatSync,
  connect,
  type ChatMessage,
  type GamedockClient,
} from "../../src/client/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { startTcpProxy, type TcpProxy } from "../queue/tcp-proxy.js";
import { removeDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "client-chat-secret-0123456789abcdef012";
const secret = new TextEncoder().encode(SECRET);

describe("the client's chat sync helper", () => {
  let server: TestServer;
  let proxy: TcpProxy;
  const clients: GamedockClient[] = [];
  const open = async (uid: string, url: string): Promise<GamedockClient> => {
    const client = connect(url, {
      token: await mintToken(secret, { uid, ttlSeconds: 600 }),
      reconnectMinMs: 50,
      reconnectMaxMs: 300,
    });
    clients.push(client);
    return client;
  };

  before(async () => {
    server = await startTestServer(
      {
        // ann sends hundreds of messages quickly: above the default frame rate of a connection.
        realtime: { jwtSecret: SECRET, limits: { ratePerSecond: 5000, rateBurst: 5000 } },
        chat: { sendsPerSecond: 5000 },
      },
      { stages: [] },
    );
    proxy = await startTcpProxy(Number(new URL(server.url).port));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await proxy.close();
    await server.close();
    await removeDir(server.data);
  });

  it("uses the server's msgIds", () => {
    assert.deepEqual(CHAT_MSG, {
      conversations: CHAT_REQUEST.conversations,
      sync: CHAT_REQUEST.sync,
      ack: CHAT_REQUEST.ack,
      pushMessage: CHAT_PUSH.message,
    });
  });

  it("delivers each message once, in order, across offline time, pushes and a dropped connection", async () => {
    const ann = await open("ann", server.url);
    const { conv } = await ann.request<{ conv: string }>(CHAT_REQUEST.direct, { peer: "bob" });
    let n = 0;
    /** `count` messages, 20 at a time (the gateway takes bursts of up to 100 frames). */
    const send = async (count: number) => {
      for (let left = count; left > 0; left -= 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, left) }, () => {
            const k = ++n;
            return ann.request(CHAT_REQUEST.send, {
              conv,
              clientMsgId: `m${k}`,
              type: "text",
              text: `message ${k}`,
            });
          }),
        );
      }
    };
    await send(150); // bob is offline: more than one page

    const got: ChatMessage[] = [];
    const kept = new Map<string, number>();
    const bob = await open("bob", `http://127.0.0.1:${proxy.port}`);
    const sync = new ChatSync(bob, {
      onMessage: (m) => got.push(m),
      pageSize: 40,
      positions: { get: (c) => kept.get(c), set: (c, s) => kept.set(c, s) },
    });
    const inOrder = (count: number) => got.length === count && got.every((m, i) => m.seq === i + 1);
    await waitFor(() => inOrder(150), "the offline messages");

    await send(20); // live: pushed
    await waitFor(() => inOrder(170), "the pushed messages");

    await proxy.cut(); // the network drops; ann goes on
    await send(30);
    await proxy.restore();
    await waitFor(() => inOrder(200), "the messages sent while bob was cut off");
    await new Promise((r) => setTimeout(r, 700)); // late pushes or acks change nothing
    assert.ok(inOrder(200), `once each, in order: ${got.length}`);
    assert.deepEqual(
      got.map((m) => m.text),
      Array.from({ length: 200 }, (_, i) => got[i]!.text),
    );
    // The server knows bob has read them (pages and pushes acknowledged).
    const { conversations } = await bob.request<{ conversations: { unread: number }[] }>(
      CHAT_REQUEST.conversations,
      {},
    );
    assert.equal(conversations[0]!.unread, 0);
    sync.stop();
    await bob.close();

    // Another device (a new client) with the kept positions: only what is new.
    await send(5);
    const later: ChatMessage[] = [];
    const again = await open("bob", server.url);
    const resumed = new ChatSync(again, {
      onMessage: (m) => later.push(m),
      positions: { get: (c) => kept.get(c), set: (c, s) => kept.set(c, s) },
    });
    await waitFor(() => later.length === 5, "the five new ones");
    assert.deepEqual(
      later.map((m) => m.seq),
      [201, 202, 203, 204, 205],
    );
    resumed.stop();
  });
});
