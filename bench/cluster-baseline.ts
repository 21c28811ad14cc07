/**
 * bench:cluster's dispatch baselines, in the bench's own process: the least
 * a queue-driven task system must do per task, on the same Redis.
 *
 * - minimal: BullMQ add + process; per job spawn /bin/true, one SQL write
 *   (better-sqlite3, WAL, as serve's embedded database) and one HTTP callback
 *   (a POST to a local server, counted there). Two workers of concurrency
 *   `slots`, as two executors of `slots` slots.
 * - raw: BullMQ add + an empty processor, for context.
 *
 * Adds go `clientConcurrency` at a time, as the cluster's submissions do.
 * Timed from the first add until the last job is accounted for.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

const run = promisify(execFile);

export interface BaselineOptions {
  redisUrl: string;
  prefix: string;
  jobs: number;
  slots: number;
  clientConcurrency: number;
  /** For the SQLite file. */
  dir: string;
}

/** Runs `one(i)` for i in [0, n), `concurrency` at a time. */
export async function inPool(
  n: number,
  concurrency: number,
  one: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

/** A local endpoint for the callbacks; `received` resolves after `expected` of them. */
async function callbackServer(expected: number): Promise<{
  url: string;
  received: Promise<void>;
  server: Server;
}> {
  let count = 0;
  let done: () => void = () => undefined;
  const received = new Promise<void>((resolve) => (done = resolve));
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(204).end();
      if (++count === expected) done();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/callback`, received, server };
}

/** Jobs per second through BullMQ; `minimal` adds the spawn, the SQL write and the callback. */
export async function baselineRate(
  options: BaselineOptions,
  kind: "minimal" | "raw",
): Promise<number> {
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const name = `baseline-${kind}`;
  const queue = new Queue(name, { connection, prefix: options.prefix });
  const db = new Database(join(options.dir, `baseline-${randomUUID()}.db`));
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT, finished_at INTEGER)");
  const insert = db.prepare("INSERT INTO jobs (id, status, finished_at) VALUES (?, 'done', ?)");
  const callbacks = await callbackServer(options.jobs);
  let processed = 0;
  let allProcessed: () => void = () => undefined;
  const rawDone = new Promise<void>((resolve) => (allProcessed = resolve));

  const processor = async (job: { id?: string }): Promise<void> => {
    if (kind === "raw") {
      if (++processed === options.jobs) allProcessed();
      return;
    }
    await run("/bin/true");
    insert.run(job.id ?? "", Date.now());
    const response = await fetch(callbacks.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: job.id, status: "done" }),
    });
    await response.arrayBuffer();
  };
  const workerConnections = [1, 2].map(() => connection.duplicate());
  const workers = workerConnections.map(
    (workerConnection) =>
      new Worker(name, processor, {
        connection: workerConnection,
        prefix: options.prefix,
        concurrency: options.slots,
      }),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const started = performance.now();
  await inPool(options.jobs, options.clientConcurrency, (i) =>
    queue.add("job", { i }, { removeOnComplete: true, removeOnFail: false }),
  );
  await (kind === "raw" ? rawDone : callbacks.received);
  const seconds = (performance.now() - started) / 1000;

  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  // Connections handed to BullMQ stay open after close(): they are ours to end.
  for (const c of [connection, ...workerConnections]) c.disconnect();
  callbacks.server.closeAllConnections();
  callbacks.server.close();
  db.close();
  return options.jobs / seconds;
}
