/**
 * GET /api/v1/pack-jobs/:id/events under load: what one subscriber is sent is
 * proportional to the changes (not to the job's size × polls), the database
 * work per poll does not grow with the number of subscribers, a client that
 * does not read is dropped instead of buffered for, and the number of streams
 * is capped. Runs the real routes over a PackStore whose queries are counted.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { DEFAULTS, createLogger } from "../../src/core/index.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { PackerContext, PackStore, registerPackRoutes } from "../../src/packer/index.js";
import { createHttpServer, closeHttpServer } from "../../src/server/http.js";
import { resolveConfig } from "../../src/server/resolve.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import type { NewJob } from "../../src/packer/model.js";
import { newJobFor } from "./jobs.js";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";

const EVENTS = { maxSubscribers: 60, pollMs: 50, summaryMs: 60_000, maxBufferedBytes: 256 * 1024 };

const jobFor = (channels: number) =>
  newJobFor(channels, { notifyLevel: "none", notifyTargets: [] });

interface Stream {
  bytes: number;
  events: { event: string; data: Record<string, unknown> }[];
  ended: Promise<void>;
  abort(): void;
}

/** Reads an event stream in the background, counting bytes and parsing events. */
function listen(url: string): Stream {
  const controller = new AbortController();
  const stream: Stream = {
    bytes: 0,
    events: [],
    ended: Promise.resolve(),
    abort: () => {
      controller.abort();
    },
  };
  stream.ended = (async () => {
    const response = await fetch(url, { signal: controller.signal });
    let buffered = "";
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        stream.bytes += chunk.byteLength;
        buffered += Buffer.from(chunk).toString("utf8");
        let end = buffered.indexOf("\n\n");
        while (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const match = /^event: (\w+)\ndata: (.*)$/s.exec(block);
          if (match)
            stream.events.push({
              event: match[1]!,
              data: JSON.parse(match[2]!) as Record<string, unknown>,
            });
          end = buffered.indexOf("\n\n");
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  return stream;
}

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

describe("pack-job event streams", () => {
  let dir = "";
  let database: Database;
  let store: PackStore;
  let ctx: PackerContext;
  let app: FastifyInstance;
  let base = "";
  const counter = { queries: 0 };
  const controller = new AbortController();

  before(async () => {
    dir = await tempDir("gamedock-events-");
    database = await openDatabase({ driver: "sqlite", path: `${dir}/gamedock.db` });
    const counted: Database = {
      ...database,
      db: database.db.withPlugin({
        transformQuery: (args) => {
          counter.queries++;
          return args.node;
        },
        transformResult: (args) => Promise.resolve(args.result),
      }),
    };
    store = new PackStore(counted);
    const resolved = resolveConfig({ ...structuredClone(DEFAULTS), data: dir });
    const logger = await createLogger({ level: "warn", file: join(dir, "gamedock.log") });
    ctx = new PackerContext(
      store,
      new Map(),
      resolved.targets,
      {},
      { ...resolved.packer, events: EVENTS },
      logger,
      controller.signal,
    );
    app = createHttpServer({ logger, tokens: [], bodyLimit: 1024 * 1024 });
    await registerPackRoutes(app, ctx);
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });

  after(async () => {
    controller.abort();
    await closeHttpServer(app);
    await database.close();
    await removeDir(dir);
  });

  /** Moves every channel of a job through its states, as workers would. */
  async function run(job: NewJob): Promise<void> {
    for (const { channel } of job.channels) {
      const ref = { jobId: job.id, channel };
      const claim = { owner: "w", leaseMs: 60_000, maxUnfinished: 5, ownerIsLive: () => true };
      await store.tasks.claim(ref, { ...claim, from: ["queued"], to: "packing" });
      await store.tasks.advance(ref, "w", "uploading", { finished: true });
      ctx.touched(job.id);
      await store.tasks.claim(ref, { ...claim, from: ["uploading"], to: "uploading" });
      await store.tasks.advance(
        ref,
        "w",
        "done",
        { output_key: `k/${channel}`, finished: true },
        async (trx) => {
          const row = await trx
            .selectFrom("pack_jobs")
            .selectAll()
            .where("id", "=", job.id)
            .executeTakeFirstOrThrow();
          await store.outbox.finishJobIfComplete(trx, row);
        },
      );
      ctx.touched(job.id);
    }
  }

  it("sends each subscriber the changes, not the whole job again and again", async () => {
    const job = jobFor(200);
    await store.jobs.create(job);
    const streams = Array.from({ length: 3 }, () =>
      listen(`${base}/api/v1/pack-jobs/${job.id}/events?since=0`),
    );
    await run(job);
    await Promise.all(streams.map((s) => s.ended));
    for (const stream of streams) {
      assert.equal(stream.events.at(-1)?.event, "end");
      assert.equal(stream.events.at(-1)?.data.status, "done");
      const last = new Map<string, unknown>();
      for (const e of stream.events)
        if (e.event === "channel") last.set(String(e.data.channel), e.data.state);
      assert.equal(last.size, 200);
      assert.ok([...last.values()].every((state) => state === "done"));
      // 200 channels × 4 changes at most, a few hundred bytes each, plus summaries.
      const perChannel = stream.bytes / 200;
      assert.ok(perChannel < 3000, `${perChannel.toFixed(0)} bytes per channel per subscriber`);
    }
  });

  it("does the same database work per poll for 1 subscriber and for 50", async () => {
    const job = jobFor(10_000);
    await store.jobs.create(job);
    const idleQueries = async (subscribers: number): Promise<number> => {
      const streams = Array.from({ length: subscribers }, () =>
        listen(`${base}/api/v1/pack-jobs/${job.id}/events`),
      );
      await until(() => streams.every((s) => s.events.length > 0), "the first summaries");
      const before = counter.queries;
      await delay(EVENTS.pollMs * 20);
      const queries = counter.queries - before;
      for (const s of streams) s.abort();
      await Promise.all(streams.map((s) => s.ended));
      return queries;
    };
    const one = await idleQueries(1);
    const fifty = await idleQueries(50);
    // One query per poll (the job's row) while nothing changes, whoever listens.
    assert.ok(one > 0 && one <= 25, `1 subscriber: ${one} queries in 20 polls`);
    assert.ok(fifty <= one + 5, `50 subscribers: ${fifty} queries, 1 subscriber: ${one}`);
  });

  it("drops a client that does not read instead of buffering for it", async () => {
    // Every channel changed: 60 000 events, ~10 MB — more than the kernel's socket
    // buffers on loopback hold (4 MB to send, 128 KB to receive when nobody reads).
    const job = jobFor(60_000);
    await store.jobs.create(job);
    await store.jobs.cancel(job.id, () => Promise.resolve([]));
    const socket = connect(Number(new URL(base).port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.write(`GET /api/v1/pack-jobs/${job.id}/events?since=0 HTTP/1.1\r\nhost: x\r\n\r\n`);
    socket.pause(); // never read: the kernel's buffers fill, then the server's queue
    const log = join(dir, "gamedock.log");
    const deadline = Date.now() + 60_000;
    while (!(await readFile(log, "utf8").catch(() => "")).includes('"event":"sse-dropped"')) {
      if (Date.now() > deadline) throw new Error("the server never dropped the client");
      await delay(50);
    }
    // Now read: the stream ends early — no `end` event, a fraction of the 10 MB.
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.resume(); // explicitly paused: a 'data' listener alone does not resume it
    await new Promise<void>((resolve) =>
      socket.once("close", () => {
        resolve();
      }),
    );
    assert.ok(!received.includes("event: end"), "the stream was cut, not finished");
    const channelEvents = received.split("event: channel").length - 1;
    assert.ok(channelEvents < 60_000, `${channelEvents} of 60000 events reached the client`);
    const open = await fetch(`${base}/healthz`);
    assert.equal(open.status, 200);
  });

  it("caps open streams with 503 E_SUBSCRIBERS_LIMIT", async () => {
    const job = jobFor(1);
    await store.jobs.create(job);
    const streams = Array.from({ length: EVENTS.maxSubscribers }, () =>
      listen(`${base}/api/v1/pack-jobs/${job.id}/events`),
    );
    await until(() => streams.every((s) => s.events.length > 0), "every stream open");
    const refused = await fetch(`${base}/api/v1/pack-jobs/${job.id}/events`);
    assert.equal(refused.status, 503);
    const body = (await refused.json()) as { error: { code: string } };
    assert.equal(body.error.code, "E_SUBSCRIBERS_LIMIT");
    for (const s of streams) s.abort();
    await Promise.all(streams.map((s) => s.ended));
    // Slots come back when clients leave.
    const again = listen(`${base}/api/v1/pack-jobs/${job.id}/events`);
    await until(() => again.events.length > 0, "a stream after the others left");
    again.abort();
    await again.ended;
  });
});
