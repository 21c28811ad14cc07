/**
 * `guess.feedUrl`: serve fetches a match feed from a URL at start and every
 * `guess.feedPollMs`, imports it, follows its changes while matches are not
 * open, and reports — without importing anything — a feed that is broken,
 * oversized or not there.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MAX_FEED_BYTES } from "../../src/guess/index.js";
import { ROOT, removeDir } from "../helpers/cli.js";
import { logLines } from "../helpers/processes.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";

interface MatchJson {
  externalId: string;
  options: { id: string; odds: number }[];
}

async function until<T>(check: () => Promise<T | null>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a match feed polled from a URL", () => {
  let feedServer: Server;
  let body = "";
  let status = 200;
  let server: TestServer;

  before(async () => {
    body = await readFile(join(ROOT, "samples/guess-feed.json"), "utf8");
    feedServer = createServer((_req, res) => {
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    });
    await new Promise<void>((r) => feedServer.listen(0, "127.0.0.1", r));
    const { port } = feedServer.address() as AddressInfo;
    server = await startTestServer(
      { guess: { feedUrl: `http://127.0.0.1:${port}/feed.json`, feedPollMs: 1000 } },
      { stages: [] },
    );
  });
  after(async () => {
    await server.close();
    await new Promise((r) => feedServer.close(r));
    await removeDir(server.data);
  });

  const pending = async (): Promise<MatchJson[]> => {
    const answer = await server.api("GET", "/api/v1/guess/admin/matches?status=pending");
    return (answer.json as { matches: MatchJson[] }).matches;
  };
  const warnings = async (event: string) =>
    (await logLines(join(server.data, "gamedock.log"))).filter((l) => l.event === event);

  it("imports the feed at start and follows its changes", async () => {
    await until(async () => ((await pending()).length === 3 ? true : null), "the first import");
    const feed = JSON.parse(body) as { matches: { options: { odds: number }[] }[] };
    feed.matches[0]!.options[0]!.odds = 1600;
    body = JSON.stringify(feed);
    await until(async () => {
      const blg = (await pending()).find((m) => m.externalId === "lpl-2026-12-05-blg-jdg");
      return blg?.options[0]?.odds === 1600 ? true : null;
    }, "the changed odds");
    const audit = await server.api("GET", "/api/v1/guess/admin/audit?actor=feed&action=import");
    assert.ok((audit.json as { entries: unknown[] }).entries.length >= 4);
  });

  it("reports a broken, oversized or missing feed and imports nothing from it", async () => {
    const before = JSON.stringify(await pending());
    for (const [nextStatus, nextBody, why] of [
      [200, '{"matches": [{"externalId": "x"}]}', "invalid field"],
      [200, "x".repeat(MAX_FEED_BYTES + 1), "larger than"],
      [503, "down", "HTTP 503"],
    ] as const) {
      const seen = (await warnings("feed-error")).length;
      status = nextStatus;
      body = nextBody;
      const logged = await until(async () => {
        const lines = await warnings("feed-error");
        return lines.length > seen ? lines.at(-1)! : null;
      }, `a feed-error for ${why}`);
      assert.match(JSON.stringify(logged.err), new RegExp(why));
    }
    assert.equal(JSON.stringify(await pending()), before, "nothing imported from a bad feed");
  });
});
