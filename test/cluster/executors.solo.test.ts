/**
 * Two `gamedock executor` processes against a `gamedock serve` whose cluster
 * queue is Redis: A offers tool "a", B offers tool "b", both offer "sh" (each
 * name maps to /bin/sh; the fixture tool.sh travels as an input). Each
 * executor reaches serve through its own counting proxy, so the test sees how
 * many bytes of each input each executor downloaded.
 *
 * Multi-process: run this file alone.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { removeDir, tempDir } from "../helpers/cli.js";
import { skipUnlessService, uniquePrefix } from "../helpers/services.js";
import {
  FIXTURE_TOOL,
  dropRedisPrefix,
  startClusterServe,
  startExecutor,
  stopGracefully,
  type ClusterServe,
  type ExecutorProcess,
} from "./cluster-procs.js";
import { startCountingProxy, type CountingProxy } from "./counting-proxy.js";
import { liveMembers, waitFor } from "./runner-kit.js";

const SHARED_BYTES = 8 * 1024 * 1024;

describe(
  "executors as processes: placement by tool, one download per executor, run timeouts",
  { skip: await skipUnlessService("redis"), timeout: 600_000 },
  () => {
    let dir = "";
    let prefix = "";
    let serve: ClusterServe;
    const proxies: CountingProxy[] = [];
    const executors: ExecutorProcess[] = [];
    let tool: { sha256: string; size: number };
    let shared: { sha256: string; size: number };

    before(async () => {
      dir = await tempDir("gamedock-executors-");
      prefix = uniquePrefix("executors");
      serve = await startClusterServe({ dir, prefix });
      for (const name of ["a", "b"]) {
        const proxy = await startCountingProxy(serve.url);
        proxies.push(proxy);
        executors.push(
          await startExecutor({
            name: `exec-${name}`,
            dir,
            prefix,
            server: proxy.url,
            tools: { [name]: "/bin/sh", sh: "/bin/sh" },
          }),
        );
      }
      tool = await serve.store("tool.sh", FIXTURE_TOOL);
      const sharedFile = join(dir, "shared.bin");
      await writeFile(sharedFile, randomBytes(SHARED_BYTES));
      shared = await serve.store("shared.bin", sharedFile);
    });
    after(async () => {
      await Promise.all(executors.map((e) => stopGracefully(e.process)));
      await serve.close();
      await Promise.all(proxies.map((p) => p.close()));
      await dropRedisPrefix(prefix);
      await removeDir(dir);
    });

    const toolInput = () => ({ path: "tool.sh", ...tool });

    it("runs each task only on an executor that offers its tool", async () => {
      const [a, b] = executors as [ExecutorProcess, ExecutorProcess];
      const live = await serve.executors();
      assert.deepEqual(
        live
          .filter((e) => e.state === "alive")
          .map((e) => e.id)
          .sort(),
        [a.id, b.id].sort(),
      );
      const submitted = [];
      for (let i = 0; i < 6; i++) {
        for (const name of ["a", "b"]) {
          submitted.push(
            await serve.submit({
              tool: name,
              args: ["tool.sh", "count", "tool.sh"],
              inputs: [toolInput()],
            }),
          );
        }
      }
      for (const created of submitted) {
        const task = await serve.waitTask(created.id);
        assert.equal(task.status, "done", JSON.stringify(task));
        assert.equal(task.result?.stdout.trim(), String(tool.size));
        assert.equal(task.executor, task.tool === "a" ? a.id : b.id, `task of tool ${task.tool}`);
      }
      // A tool no live executor of the pool offers is refused at once.
      const unknown = await serve.api("POST", "/api/v1/tasks", { tool: "c" });
      assert.equal(unknown.status, 400);
      assert.equal((unknown.json as { error: { code: string } }).error.code, "E_TOOL_UNKNOWN");
    });

    it("downloads an input shared by 20 tasks at most once per executor", async (t) => {
      const submitted = await Promise.all(
        Array.from({ length: 20 }, () =>
          serve.submit({
            tool: "sh",
            args: ["tool.sh", "count", "shared.bin"],
            inputs: [toolInput(), { path: "shared.bin", ...shared }],
          }),
        ),
      );
      const ranOn = new Set<string>();
      for (const created of submitted) {
        const task = await serve.waitTask(created.id);
        assert.equal(task.status, "done", JSON.stringify(task));
        assert.equal(task.result?.stdout.trim(), String(SHARED_BYTES), "the whole input was there");
        ranOn.add(task.executor ?? "");
      }
      for (const [i, proxy] of proxies.entries()) {
        const bytes = proxy.inputBytes(shared.sha256);
        assert.ok(
          bytes <= shared.size,
          `executor ${executors[i]!.id} fetched ${bytes} bytes of a ${shared.size}-byte input`,
        );
      }
      t.diagnostic(
        `bytes fetched by executor: ${proxies.map((p) => p.inputBytes(shared.sha256)).join(", ")}`,
      );
      const total = proxies.reduce((sum, p) => sum + p.inputBytes(shared.sha256), 0);
      assert.equal(
        total,
        ranOn.size * shared.size,
        "each executor that ran a task fetched it whole",
      );
    });

    it("kills a tool past runMs with its whole process group: E_TASK_TIMEOUT", async () => {
      const pidsFile = join(dir, "group.pids");
      const created = await serve.submit({
        tool: "a",
        args: ["tool.sh", "group-pids", pidsFile],
        inputs: [toolInput()],
        timeouts: { runMs: 1500 },
      });
      const task = await serve.waitTask(created.id);
      assert.equal(task.status, "timed_out", JSON.stringify(task));
      assert.equal(task.error?.code, "E_TASK_TIMEOUT");
      assert.equal(task.result?.stdout, "started\n", "the tool ran until it was stopped");
      const [pgid, grandchild] = (await readFile(pidsFile, "utf8")).trim().split(" ").map(Number);
      assert.ok(pgid! > 1 && grandchild! > 1);
      // The kill is sent before the run is reported; give the kernel time to reap.
      const deadline = Date.now() + 30_000;
      await waitFor(async () => (await liveMembers(pgid!)).length === 0 || Date.now() > deadline);
      assert.deepEqual(await liveMembers(pgid!), [], `process group ${pgid} is gone`);
    });
  },
);
