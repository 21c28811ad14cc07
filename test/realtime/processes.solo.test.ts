/**
 * Gateways and logic workers as separate processes on real Redis: two
 * `gamedock gateway`s and two `gamedock logic` workers; one worker is
 * killed with SIGKILL while 1,000 requests from 50 clients are in flight,
 * and every request still gets exactly one reply; a gateway killed the
 * same way loses its client to the other, which resumes every push. What
 * the killed processes leave on the bus (a consumer, a stream) is removed.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { busKeys } from "../../src/bus/index.js";
import { mintToken, type LogicGroupStatus } from "../../src/realtime/index.js";
import {
  kill9,
  logLines,
  spawnCli,
  stopGracefully,
  type CliProcess,
} from "../helpers/processes.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { openSocket, type TestSocket } from "./ws-client.js";

const skip = await skipUnlessService("redis");
const SECRET = "processes-test-secret-0123456789abcdef";
const CLIENTS = 50;
const REQUESTS_PER_CLIENT = 20;

describe("gateways and logic workers as processes on Redis", { skip, timeout: 180_000 }, () => {
  const prefix = uniquePrefix("realtime");
  const procs: CliProcess[] = [];
  let config = "";
  let dir = "";

  before(async () => {
    dir = await tempDir("gamedock-realtime-procs-");
    config = join(dir, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        data: join(dir, "data"),
        log: { level: "info", file: join(dir, "realtime.log") },
        server: { port: 0 },
        realtime: {
          bus: { driver: "redis", url: SERVICES.redis.url, prefix },
          jwtSecret: SECRET,
          handlers: [join(import.meta.dirname, "fixtures/slow-echo.ts")],
          claimIdleMs: 1500,
          presenceTtlMs: 3000,
          concurrency: 16,
        },
      }),
    );
  });
  after(async () => {
    await Promise.all(procs.map((p) => stopGracefully(p, 10_000)));
    await dropRedisPrefix(prefix);
    await removeDir(dir);
  });

  const gateway = async () => {
    const { process, match } = await spawnCli(
      ["gateway", "--config", config],
      /listening on (http:\/\/\S+)/,
    );
    procs.push(process);
    return { process, url: match[1]! };
  };
  const logic = async () => {
    const { process } = await spawnCli(["logic", "--config", config], /handling group default/);
    procs.push(process);
    return process;
  };

  it("answers every request exactly once when a logic worker is killed mid-way", async () => {
    const gateways = [await gateway(), await gateway()];
    const workers = [await logic(), await logic()];
    const secret = new TextEncoder().encode(SECRET);
    const sockets: TestSocket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const token = await mintToken(secret, { uid: `player-${i}`, ttlSeconds: 600 });
      const ws = await openSocket(gateways[i % 2]!.url, { token });
      await ws.next(([head]) => head.msgId === 1, "the welcome");
      sockets.push(ws);
    }
    const replies = () =>
      sockets.reduce((n, ws) => n + ws.frames.filter(([h]) => h.seq !== undefined).length, 0);
    for (let seq = 1; seq <= REQUESTS_PER_CLIENT; seq++) {
      sockets.forEach((ws, i) => {
        ws.send([
          { msgId: 1001, seq },
          { client: i, seq },
        ]);
      });
    }
    const total = CLIENTS * REQUESTS_PER_CLIENT;
    await waitFor(() => replies() >= total / 10, "the first replies");
    await kill9(workers[0]!);
    const repliedAtKill = replies();
    assert.ok(
      repliedAtKill < total,
      `requests were still in flight at the kill (${repliedAtKill} of ${total} replied)`,
    );
    await waitFor(() => replies() >= total, `all ${total} replies`);
    await sleep(2 * 1500); // a second reply, if any, would come after a claim: give it the time
    sockets.forEach((ws, i) => {
      const answers = ws.frames.filter(([h]) => h.seq !== undefined);
      const seqs = answers.map(([h]) => h.seq as number).sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        Array.from({ length: REQUESTS_PER_CLIENT }, (_, k) => k + 1),
        `client ${i}: one reply per request`,
      );
      for (const [head, body] of answers) {
        assert.equal(head.code, 0);
        assert.deepEqual(body, { client: i, seq: head.seq });
      }
    });
    sockets.forEach((ws) => {
      ws.close();
    });
    const claims = (await logLines(join(dir, "realtime.log"))).filter(
      (l) => l.event === "requests-claimed",
    );
    assert.ok(claims.length > 0, "the surviving worker took over what the killed one held");
    // The killed worker's consumer goes once nothing is pending for it and its presence expired.
    const logicGroups = async () => {
      const response = await fetch(`${gateways[0]!.url}/api/v1/realtime/logic-groups`);
      return ((await response.json()) as { groups: LogicGroupStatus[] }).groups;
    };
    await waitFor(async () => {
      const group = (await logicGroups()).find((g) => g.group === "default");
      return group?.consumers.length === 1 && group.consumers[0]!.alive && group.pending === 0;
    }, "the killed worker's consumer to be removed");
  });

  it("a client of a gateway killed with SIGKILL resumes on the other and gets every push once, in order", async () => {
    const [a, b] = [await gateway(), await gateway()];
    const token = await mintToken(new TextEncoder().encode(SECRET), {
      uid: "roamer",
      ttlSeconds: 600,
    });
    const push = async (url: string, n: number) => {
      const response = await fetch(`${url}/api/v1/push`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ to: { uid: "roamer" }, msgId: 1500, body: { n } }),
      });
      assert.equal(response.status, 200, await response.text());
    };
    const first = await openSocket(a.url, { token });
    const [, welcome] = await first.next(([h]) => h.msgId === 1, "the welcome");
    const { epoch } = welcome as { epoch: string };
    for (let n = 1; n <= 3; n++) await push(b.url, n);
    await first.next(([, body]) => (body as { n?: number }).n === 3, "the live pushes");
    const seen = first.frames.filter(([h]) => h.msgId === 1500);
    const lastOffset = seen.at(-1)![0].offset as number;
    const { gatewayId: killed } = welcome as { gatewayId: string };
    await kill9(a.process);
    await first.closed;
    for (let n = 4; n <= 10; n++) await push(b.url, n); // while the client is away
    const second = await openSocket(b.url, {
      token,
      query: `lastOffset=${lastOffset}&epoch=${epoch}`,
    });
    const [, back] = await second.next(([h]) => h.msgId === 1, "the welcome on the other gateway");
    assert.equal((back as { recovered: boolean }).recovered, true);
    for (let n = 11; n <= 12; n++) await push(b.url, n); // live again
    await second.next(([, body]) => (body as { n?: number }).n === 12, "the last push");
    await sleep(300);
    const all = [...seen, ...second.frames.filter(([h]) => h.msgId === 1500)];
    assert.deepEqual(
      all.map(([, body]) => (body as { n: number }).n),
      Array.from({ length: 12 }, (_, i) => i + 1),
      "every push once, in order",
    );
    const offsets = all.map(([h]) => h.offset as number);
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => offsets[0]! + i),
      "consecutive offsets",
    );
    second.close();
    // The surviving gateway removes the killed one's stream (its presence expires).
    const redis = new Redis(SERVICES.redis.url);
    try {
      await waitFor(
        async () => (await redis.exists(`${prefix}:${busKeys.gatewayStream(killed)}`)) === 0,
        "the killed gateway's stream to be removed",
      );
      const response = await fetch(`${b.url}/api/v1/realtime/gateways`);
      const listed = ((await response.json()) as { gateways: { gatewayId: string }[] }).gateways;
      assert.ok(!listed.some((g) => g.gatewayId === killed), "the killed gateway is not listed");
    } finally {
      redis.disconnect();
    }
  });

  it("drains on SIGTERM: replies in flight are delivered, then sockets close with 1012", async () => {
    const { process: gw, url } = await gateway();
    await logic();
    const token = await mintToken(new TextEncoder().encode(SECRET), {
      uid: "drained",
      ttlSeconds: 600,
    });
    const ws = await openSocket(url, { token });
    await ws.next(([h]) => h.msgId === 1, "the welcome");
    const SENT = 30;
    for (let seq = 1; seq <= SENT; seq++) ws.send([{ msgId: 1001, seq }, { seq }]);
    await ws.next(([h]) => h.seq !== undefined, "a first reply");
    const exited = stopGracefully(gw, 30_000);
    assert.equal((await ws.closed).code, 1012);
    assert.equal(await exited, 0, "the gateway exits cleanly after the drain");
    const answers = ws.frames.filter(([h]) => h.seq !== undefined);
    assert.deepEqual(
      answers.map(([h]) => h.seq as number).sort((a, b) => a - b),
      Array.from({ length: SENT }, (_, i) => i + 1),
      "every request answered once before the close",
    );
    for (const [head] of answers) assert.ok(head.code === 0 || head.code === "E_DRAINING");
  });

  it("refuses to run gateway or logic on the memory bus", async () => {
    const memoryConfig = join(dir, "memory.json");
    await writeFile(
      memoryConfig,
      JSON.stringify({ data: join(dir, "data2"), server: { port: 0 } }),
    );
    for (const command of ["gateway", "logic"]) {
      await assert.rejects(
        spawnCli([command, "--config", memoryConfig], /listening|handling/),
        /E_CONFIG.*realtime\.bus/,
      );
    }
  });
});
