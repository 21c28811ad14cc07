/**
 * The gateway's message counters in its status record (GET
 * /api/v1/realtime/gateways): frames received from clients (requests,
 * refused frames) and frames sent to them (welcomes, replies, pushes, error
 * frames), cumulative since the gateway started, as the record is rewritten
 * at each presence refresh (a third of presenceTtlMs, kept short here).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GatewayStatus } from "../../src/realtime/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { removeDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";
import { openSocket } from "./ws-client.js";

const SECRET = "counters-test-secret-0123456789abcdef";
const secret = new TextEncoder().encode(SECRET);

describe("the gateway's message counters", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ realtime: { jwtSecret: SECRET, presenceTtlMs: 1500 } });
  });
  after(async () => {
    await server.close();
    await removeDir(server.data);
  });

  const status = async (): Promise<GatewayStatus> => {
    const { status, json } = await server.api("GET", "/api/v1/realtime/gateways");
    assert.equal(status, 200);
    const { gateways } = json as { gateways: GatewayStatus[] };
    assert.equal(gateways.length, 1, JSON.stringify(gateways));
    return gateways[0]!;
  };
  /** A status record written after `at` (ms), so counting everything done before it, and `also`. */
  const statusAfter = async (
    at: number,
    also: (s: GatewayStatus) => boolean = () => true,
  ): Promise<GatewayStatus> => {
    let found: GatewayStatus | undefined;
    await waitFor(async () => {
      found = await status();
      return Date.parse(found.updatedAt) > at && also(found);
    }, "a status record written after the frames");
    return found!;
  };

  it("counts frames in and out, and moves by exactly what was exchanged", async () => {
    const start = await statusAfter(Date.now());
    assert.equal(typeof start.messagesIn, "number");
    assert.equal(typeof start.messagesOut, "number");

    const ws = await openSocket(server.url, {
      token: await mintToken(secret, { uid: "counted", ttlSeconds: 600 }),
    });
    await ws.next(([head]) => head.msgId === 1, "the welcome"); // out: 1
    for (let seq = 1; seq <= 3; seq++) {
      assert.equal((await ws.request(1001, { n: seq }, seq))[0].code, 0); // in: 3, out: 3
    }
    // The sample 1004 pushes the body back as msgId 1050: a reply and a push.
    await ws.request(1004, { gift: 1 }, 4); // in: 1, out: 1
    await ws.next(([head]) => head.msgId === 1050, "the push"); // out: 1
    ws.sendRaw("{not json"); // in: 1, out: 1 (an error frame)
    await ws.next(([head]) => head.code === "E_FRAME_INVALID", "the refusal");
    assert.equal(ws.frames.length, 7, JSON.stringify(ws.frames));

    const counted = await statusAfter(Date.now());
    assert.equal(counted.messagesIn - start.messagesIn, 5);
    assert.equal(counted.messagesOut - start.messagesOut, 7);
    ws.close();
    await ws.closed;

    // Counters are cumulative: closing the connection takes nothing off them.
    // (The server may see the close a moment after the client does.)
    const later = await statusAfter(Date.now(), (s) => s.connections === 0);
    assert.deepEqual(
      [later.messagesIn, later.messagesOut],
      [counted.messagesIn, counted.messagesOut],
    );
    assert.equal(later.startedAt, start.startedAt);
  });
});
