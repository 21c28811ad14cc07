/**
 * The cluster's server side over HTTP, driven by the test as an executor
 * would be (register, claim, progress, complete): what a publisher's bad
 * input gets, idempotency keys, the one claim that wins, cancel, assignment
 * timeouts, lost executors, and the result cache.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";

interface TaskJson {
  id: string;
  status: string;
  attempts: number;
  executor: string | null;
  error: { code: string; message: string } | null;
  result: { exitCode: number | null; outputs: unknown[]; cached?: boolean } | null;
  cache?: { hit: boolean; disabled: string | null };
}
interface ErrorJson {
  error: { code: string; message: string; details?: { field?: string } };
}

const TOOL_SHA = "a".repeat(64);

async function waitFor<T>(
  read: () => Promise<T>,
  until: (value: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (until(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await delay(25);
  }
}

describe("task cluster API", { skip: await skipUnlessService("redis") }, () => {
  let server: TestServer;
  let input: { sha256: string; size: number };

  before(async () => {
    // Remote executors (the test, here) need the cluster queue on Redis.
    server = await startTestServer(
      {
        queues: {
          default: { driver: "sqlite", path: "" },
          cluster: { driver: "redis", url: SERVICES.redis.url, prefix: uniquePrefix("cluster") },
        },
        cluster: {
          queue: "cluster",
          sweepIntervalMs: 100,
          heartbeatMs: 200,
          lostAfterMs: 1000,
          defaults: { assignMs: 60_000, stagingMs: 60_000, runMs: 60_000, retries: 1 },
        },
      },
      { stages: [] },
    );
    const bytes = randomBytes(1000);
    const put = await fetch(`${server.url}/files/input.bin`, { method: "PUT", body: bytes });
    assert.equal(put.status, 201);
    input = { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
  });
  after(async () => {
    await server.close();
  });

  const submit = (body: unknown) => server.api("POST", "/api/v1/tasks", body);
  const task = async (id: string) =>
    (await server.api("GET", `/api/v1/tasks/${id}`)).json as TaskJson;
  const register = (id: string, tools: Record<string, string>, pool = "default") =>
    server.api("POST", "/api/v1/executors", {
      id,
      host: "test",
      pool,
      tools,
      slots: 2,
      cache: { bytes: 0, max: 1 << 30 },
      localKey: undefined,
    });

  async function refused(body: unknown, status: number, code: string, field?: string) {
    const answer = await submit(body);
    const error = (answer.json as ErrorJson).error;
    assert.equal(answer.status, status, JSON.stringify(answer.json));
    assert.equal(error.code, code, error.message);
    if (field !== undefined) assert.equal(error.details?.field, field);
  }

  it("refuses bad tasks with 400 and the field", async () => {
    await refused({ tool: "a b" }, 400, "E_INVALID_REQUEST", "tool");
    await refused(
      { tool: "cc", inputs: [{ path: "../x", ...input }] },
      400,
      "E_INVALID_REQUEST",
      "inputs.0.path",
    );
    await refused(
      { tool: "cc", inputs: [{ path: "/etc/passwd", ...input }] },
      400,
      "E_INVALID_REQUEST",
      "inputs.0.path",
    );
    await refused(
      {
        tool: "cc",
        inputs: [
          { path: "a", ...input },
          { path: "a", ...input },
        ],
      },
      400,
      "E_INVALID_REQUEST",
      "inputs.1.path",
    );
    await refused(
      {
        tool: "cc",
        inputs: [
          { path: "a", ...input },
          { path: "a/b", ...input },
        ],
      },
      400,
      "E_INVALID_REQUEST",
      "inputs",
    );
    await refused({ tool: "cc", outputs: ["../out"] }, 400, "E_INVALID_REQUEST", "outputs.0");
    await refused(
      { tool: "cc", env: { LD_PRELOAD: "/x.so" } },
      400,
      "E_INVALID_REQUEST",
      "env.LD_PRELOAD",
    );
    await refused({ tool: "cc", args: ["a\u0000b"] }, 400, "E_INVALID_REQUEST", "args.0");
    await refused(
      { tool: "cc", inputs: [{ path: "x", sha256: "b".repeat(64), size: 5 }] },
      400,
      "E_INPUT_NOT_FOUND",
      "inputs.0",
    );
    await refused(
      { tool: "cc", inputs: [{ path: "x", sha256: input.sha256, size: input.size + 1 }] },
      400,
      "E_INPUT_NOT_FOUND",
      "inputs.0",
    );
    await refused('{"tool":"cc","tool":"dd"}', 400, "E_JSON_DUPLICATE_KEY");
    await refused({ tool: "cc", shell: "rm -rf /" }, 400, "E_INVALID_REQUEST");
  });

  it("refuses a tool no live executor of the pool offers", async () => {
    assert.equal((await register("ex-unknown", { sha: TOOL_SHA }, "pool-u")).status, 201);
    await refused({ tool: "cc", pool: "pool-u" }, 400, "E_TOOL_UNKNOWN", "tool");
  });

  it("returns the same task for the same key", async () => {
    const first = await submit({ tool: "cc", key: "build-42", pool: "keys" });
    assert.equal(first.status, 201);
    const second = await submit({ tool: "cc", key: "build-42", pool: "keys" });
    assert.equal(second.status, 200);
    assert.equal((second.json as TaskJson).id, (first.json as TaskJson).id);
  });

  it("lets one claim of two win, follows the stages, and records the result once", async () => {
    await register("ex-a", { cc: TOOL_SHA }, "race");
    await register("ex-b", { cc: TOOL_SHA }, "race");
    const created = (
      await submit({
        tool: "cc",
        pool: "race",
        inputs: [{ path: "in/x.bin", ...input }],
        args: ["-o", "out.bin"],
      })
    ).json as TaskJson;
    const claims = await Promise.all(
      ["ex-a", "ex-b"].map((executor) =>
        server.api("POST", `/api/v1/tasks/${created.id}/claim`, { executor }),
      ),
    );
    const won = claims.filter((c) => c.status === 200);
    assert.equal(won.length, 1, JSON.stringify(claims));
    assert.equal(claims.find((c) => c.status !== 200)?.status, 409);
    const winner = (await task(created.id)).executor!;
    for (const status of ["staging", "running", "uploading"]) {
      const progress = await server.api("POST", `/api/v1/tasks/${created.id}/progress`, {
        executor: winner,
        status,
      });
      assert.equal(progress.status, 204);
    }
    const loser = winner === "ex-a" ? "ex-b" : "ex-a";
    const stale = await server.api("POST", `/api/v1/tasks/${created.id}/progress`, {
      executor: loser,
      status: "running",
    });
    assert.equal(stale.status, 409);
    const result = {
      exitCode: 0,
      stdout: "ok",
      stderr: "",
      outputs: [],
      logs: { stdout: null, stderr: null, truncated: false },
      ms: 5,
    };
    const done = await server.api("POST", `/api/v1/tasks/${created.id}/complete`, {
      kind: "result",
      executor: winner,
      result,
    });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    assert.equal((done.json as TaskJson).status, "done");
    const again = await server.api("POST", `/api/v1/tasks/${created.id}/complete`, {
      kind: "result",
      executor: winner,
      result,
    });
    assert.equal(again.status, 409, "a second report does not change a finished task");
  });

  it("fails a task with a non-zero exit as E_EXIT_NONZERO and keeps the tails", async () => {
    await register("ex-exit", { cc: TOOL_SHA }, "exit");
    const created = (await submit({ tool: "cc", pool: "exit" })).json as TaskJson;
    assert.equal(
      (await server.api("POST", `/api/v1/tasks/${created.id}/claim`, { executor: "ex-exit" }))
        .status,
      200,
    );
    const result = {
      exitCode: 2,
      stdout: "",
      stderr: "cc: error: x.c:1: boom",
      outputs: [],
      logs: { stdout: null, stderr: null, truncated: false },
      ms: 5,
    };
    const answer = (
      await server.api("POST", `/api/v1/tasks/${created.id}/complete`, {
        kind: "result",
        executor: "ex-exit",
        result,
      })
    ).json as TaskJson;
    assert.equal(answer.status, "failed");
    assert.equal(answer.error?.code, "E_EXIT_NONZERO");
    assert.match(answer.error?.message ?? "", /code 2.*boom/);
    assert.equal(answer.result?.exitCode, 2);
  });

  it("cancels a queued task at once and a running one through its executor's heartbeat", async () => {
    const queued = (await submit({ tool: "cc", pool: "nobody" })).json as TaskJson;
    const cancelled = (await server.api("POST", `/api/v1/tasks/${queued.id}/cancel`))
      .json as TaskJson;
    assert.equal(cancelled.status, "cancelled");
    assert.equal((await server.api("POST", `/api/v1/tasks/${queued.id}/cancel`)).status, 409);
    assert.equal(
      (await server.api("POST", `/api/v1/tasks/${queued.id}/claim`, { executor: "ex-a" })).status,
      409,
    );

    await register("ex-c", { cc: TOOL_SHA }, "cancel");
    const running = (await submit({ tool: "cc", pool: "cancel" })).json as TaskJson;
    await server.api("POST", `/api/v1/tasks/${running.id}/claim`, { executor: "ex-c" });
    await server.api("POST", `/api/v1/tasks/${running.id}/cancel`);
    const beat = await server.api("POST", "/api/v1/executors/ex-c/heartbeat", {
      busy: 1,
      cacheBytes: 0,
      running: [running.id],
    });
    assert.deepEqual(beat.json, { cancel: [running.id] });
    const report = {
      kind: "error",
      executor: "ex-c",
      error: { code: "E_CANCELLED", message: "killed" },
    };
    const ended = (await server.api("POST", `/api/v1/tasks/${running.id}/complete`, report))
      .json as TaskJson;
    assert.equal(ended.status, "cancelled");
  });

  it("fails a task no executor takes within assignMs with E_TASK_NOT_ASSIGNED", async () => {
    const created = (await submit({ tool: "cc", pool: "empty", timeouts: { assignMs: 300 } }))
      .json as TaskJson;
    const failed = await waitFor(
      () => task(created.id),
      (t) => t.status !== "queued",
      "the assignment timeout",
    );
    assert.equal(failed.status, "failed");
    assert.equal(failed.error?.code, "E_TASK_NOT_ASSIGNED");
  });

  it("gives a lost executor's task another run, then fails it E_EXECUTOR_LOST", async () => {
    await register("ex-lost-1", { cc: TOOL_SHA }, "lost");
    const created = (await submit({ tool: "cc", pool: "lost", retries: 1 })).json as TaskJson;
    await server.api("POST", `/api/v1/tasks/${created.id}/claim`, { executor: "ex-lost-1" });
    // ex-lost-1 never heartbeats: after lostAfterMs it is lost and the task goes back to the queue.
    const requeued = await waitFor(
      () => task(created.id),
      (t) => t.status === "queued",
      "the requeue",
    );
    assert.equal(requeued.attempts, 1);
    await register("ex-lost-2", { cc: TOOL_SHA }, "lost");
    assert.equal(
      (await server.api("POST", `/api/v1/tasks/${created.id}/claim`, { executor: "ex-lost-2" }))
        .status,
      200,
    );
    const failed = await waitFor(
      () => task(created.id),
      (t) => t.status === "failed",
      "the second loss",
    );
    assert.equal(failed.error?.code, "E_EXECUTOR_LOST");
    assert.equal(failed.attempts, 2);
    const executors = (await server.api("GET", "/api/v1/executors")).json as {
      executors: { id: string; state: string }[];
    };
    assert.equal(executors.executors.find((e) => e.id === "ex-lost-1")?.state, "lost");
  });

  it("returns a cacheable task's first result at once when the same task comes again", async () => {
    await register("ex-cache", { cc: TOOL_SHA }, "cache");
    const body = {
      tool: "cc",
      pool: "cache",
      cacheable: true,
      args: ["x"],
      inputs: [{ path: "x", ...input }],
      outputs: ["y"],
    };
    const first = (await submit(body)).json as TaskJson;
    assert.deepEqual(first.cache, { hit: false, disabled: null });
    await server.api("POST", `/api/v1/tasks/${first.id}/claim`, { executor: "ex-cache" });
    const result = {
      exitCode: 0,
      stdout: "",
      stderr: "",
      outputs: [],
      logs: { stdout: null, stderr: null, truncated: false },
      ms: 1,
    };
    await server.api("POST", `/api/v1/tasks/${first.id}/complete`, {
      kind: "result",
      executor: "ex-cache",
      result,
    });
    const second = (await submit(body)).json as TaskJson;
    assert.equal(second.status, "done");
    assert.equal(second.result?.cached, true);
    assert.equal(second.cache?.hit, true);
    // Another binary of the tool in the pool: caching is off, and the answer says why.
    await register("ex-cache-2", { cc: "c".repeat(64) }, "cache");
    const third = (await submit(body)).json as TaskJson;
    assert.equal(third.status, "queued");
    assert.match(third.cache?.disabled ?? "", /2 different binaries/);
  });

  it("refuses remote executors when the cluster queue is not Redis", async () => {
    // The embedded default: only the server's own executor can consume its queue.
    const embedded = await startTestServer({}, { stages: [] });
    try {
      const answer = await embedded.api("POST", "/api/v1/executors", {
        id: "remote",
        host: "elsewhere",
        pool: "default",
        tools: { cc: TOOL_SHA },
        slots: 1,
        cache: { bytes: 0, max: 1 },
      });
      assert.equal(answer.status, 500);
      assert.equal((answer.json as ErrorJson).error.code, "E_CONFIG");
      assert.match((answer.json as ErrorJson).error.message, /redis/);
    } finally {
      await embedded.close();
    }
  });
});
