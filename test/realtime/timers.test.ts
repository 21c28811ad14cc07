/**
 * A closed server leaves nothing that keeps the process alive. In one CI run
 * test/client/client.test.ts finished its suites and then waited 10 minutes
 * to exit: the inspector showed a gateway's token-expiry timer (a 600 s
 * token's) still armed and ref'd. Those timers are now unref'd and never
 * armed for a connection already forgotten. This checks the property over
 * refreshed, closing and still-open connections; it did not reproduce that
 * run's exact interleaving, which the unref covers whatever it was.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { connect } from "../../src/client/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { removeDir } from "../helpers/cli.js";
import { startTestServer } from "../helpers/serve.js";

const SECRET = "timers-test-secret-0123456789abcdef0123";
const secret = new TextEncoder().encode(SECRET);

const liveTimers = (): number =>
  process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;

describe("realtime timers", () => {
  it("none outlives the server: refreshed, closing and closed connections included", async () => {
    const baseline = liveTimers();
    const server = await startTestServer({ realtime: { jwtSecret: SECRET } }, { stages: [] });
    let clients: ReturnType<typeof connect>[] = [];
    try {
      clients = await Promise.all(
        ["ann", "bob", "cy"].map(async (uid) =>
          connect(server.url, {
            token: await mintToken(secret, { uid, ttlSeconds: 600 }),
            getToken: () => mintToken(secret, { uid, ttlSeconds: 3600 }),
          }),
        ),
      );
      for (const client of clients) assert.deepEqual(await client.request(1001, "hi"), "hi");
      await clients[0]!.refreshToken();
      // A refresh sent as the connection closes.
      const racing = clients[1]!.refreshToken().catch(() => undefined);
      await clients[1]!.close();
      await racing;
      await clients[0]!.close();
      // cy stays connected until the server closes.
    } finally {
      await server.close();
      // Closed by the server, cy's client would reconnect (its backoff is a timer): stop it.
      await Promise.all(clients.map((client) => client.close()));
      await removeDir(server.data);
    }
    await delay(200);
    assert.ok(
      liveTimers() <= baseline,
      `timers keep the process alive after the server closed: ${JSON.stringify(process.getActiveResourcesInfo())}`,
    );
  });
});
