/**
 * Executors that go away while a task's tool runs, with two `gamedock
 * executor` processes offering the same tool against a `gamedock serve` on
 * Redis (an executor silent for 4 s is lost):
 * - `kill -9`: the task runs again on the other executor when a re-run is
 *   left (retries ≥ 1) and its result is recorded once; with retries 0 it
 *   fails E_EXECUTOR_LOST;
 * - SIGTERM: the executor gives the task back (not counted as a run lost),
 *   deregisters, and the other one runs it.
 * The tool waits for a file the test creates, so each run ends when the test
 * says, whatever the machine's speed.
 *
 * Multi-process: run this file alone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { removeDir, tempDir } from "../helpers/cli.js";
import { skipUnlessService, uniquePrefix } from "../helpers/services.js";
import {
  FIXTURE_TOOL,
  dropRedisPrefix,
  endsRecorded,
  kill9,
  runLogged,
  runsReported,
  startClusterServe,
  startExecutor,
  stopGracefully,
  type ClusterServe,
  type ExecutorProcess,
  type ExecutorSpec,
  type TaskJson,
} from "./cluster-procs.js";
import { waitFor } from "./runner-kit.js";

/** Live processes whose command line mentions `text` (a zombie is dead: not counted). */
async function processesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) found.push(Number(name));
  }
  return found;
}

describe(
  "executors lost or stopped while a tool runs",
  { skip: await skipUnlessService("redis"), timeout: 600_000 },
  () => {
    let dir = "";
    let prefix = "";
    let serve: ClusterServe;
    const specs: ExecutorSpec[] = [];
    const executors: ExecutorProcess[] = [];
    let tool: { sha256: string; size: number };
    /** Files the tools wait for: all created at the end, so no run outlives the suite. */
    const gates: string[] = [];

    before(async () => {
      dir = await tempDir("gamedock-kill-run-");
      prefix = uniquePrefix("killrun");
      serve = await startClusterServe({ dir, prefix, cluster: { lostAfterMs: 4000 } });
      for (const name of ["exec-p", "exec-q"]) {
        const spec = { name, dir, prefix, server: serve.url, tools: { sh: "/bin/sh" } };
        specs.push(spec);
        executors.push(await startExecutor(spec));
      }
      tool = await serve.store("tool.sh", FIXTURE_TOOL);
    });
    // Each test starts with both executors running: one a test stopped comes back under its id.
    beforeEach(async () => {
      for (const [i, executor] of executors.entries()) {
        const { child } = executor.process;
        if (child.exitCode === null && child.signalCode === null) continue;
        executors[i] = await startExecutor(specs[i]!);
        assert.equal(executors[i].id, executor.id, "the same cache directory is the same id");
      }
    });
    after(async () => {
      await Promise.all(gates.map((gate) => writeFile(gate, "")));
      await Promise.all(executors.map((e) => stopGracefully(e.process)));
      await serve.close();
      await dropRedisPrefix(prefix);
      await removeDir(dir);
    });

    /** A task whose tool runs until `open(gate)`; resolves once it runs, with who runs it. */
    async function startGatedTask(retries: number) {
      const gate = join(dir, `gate-${gates.length}`);
      gates.push(gate);
      const created = await serve.submit({
        tool: "sh",
        args: ["tool.sh", "wait-for", gate],
        inputs: [{ path: "tool.sh", ...tool }],
        retries,
      });
      const running = await serve.waitTask(created.id, (t) => t.status === "running");
      const at = executors.findIndex((e) => e.id === running.executor);
      assert.ok(at >= 0, `runs on one of ours: ${JSON.stringify(running)}`);
      const holder = executors[at]!;
      const other = executors[1 - at]!;
      return { id: created.id, gate, holder, other };
    }
    const open = (gate: string) => writeFile(gate, "");
    const runningOn = (executor: ExecutorProcess) => (t: TaskJson) =>
      t.status === "running" && t.executor === executor.id;

    it("runs the task again on the other executor after kill -9, and records it once", async () => {
      const { id, gate, holder, other } = await startGatedTask(1);
      await kill9(holder.process);
      // The server notices the silence, gives the task back, and the other executor takes it.
      await serve.waitTask(id, runningOn(other));
      await open(gate);
      const task = await serve.waitTask(id);
      assert.equal(task.status, "done", JSON.stringify(task));
      assert.equal(task.executor, other.id);
      assert.equal(task.attempts, 2, "the lost run and the one that finished");
      assert.equal(task.result?.stdout, `waited for ${gate}\n`);
      await runLogged(other, id);
      assert.equal(await runsReported(other, id), 1, "the survivor reported one run");
      assert.equal(await runsReported(holder, id), 0, "the killed executor reported none");
      assert.equal(await endsRecorded(serve, id), 1, "one end recorded");
      const states = Object.fromEntries((await serve.executors()).map((e) => [e.id, e.state]));
      assert.equal(states[holder.id], "lost");
      assert.equal(states[other.id], "alive");
    });

    it("fails the task E_EXECUTOR_LOST after kill -9 when no re-run is left", async () => {
      const { id, gate, holder, other } = await startGatedTask(0);
      // "running" is reported as the launcher starts the tool: wait until it is there.
      await waitFor(async () => (await processesWith(gate)).length === 1);
      await kill9(holder.process);
      // Its launcher sees the executor go and kills the tool: nothing is left running.
      await waitFor(async () => (await processesWith(gate)).length === 0);
      const task = await serve.waitTask(id);
      await open(gate);
      assert.equal(task.status, "failed", JSON.stringify(task));
      assert.equal(task.error?.code, "E_EXECUTOR_LOST");
      assert.equal(task.attempts, 1);
      assert.equal(task.result, null);
      assert.equal(await runsReported(other, id), 0, "nobody ran it again");
    });

    it("gives the running task back on SIGTERM and deregisters; the other executor runs it", async () => {
      // retries 0: a task given back at shutdown is not a run lost, so it still runs again.
      const { id, gate, holder, other } = await startGatedTask(0);
      assert.equal(await stopGracefully(holder.process), 0, "a graceful stop exits 0");
      const listed = (await serve.executors()).map((e) => e.id);
      assert.ok(!listed.includes(holder.id), `deregistered: ${JSON.stringify(listed)}`);
      await serve.waitTask(id, runningOn(other));
      await open(gate);
      const task = await serve.waitTask(id);
      assert.equal(task.status, "done", JSON.stringify(task));
      assert.equal(task.executor, other.id);
      assert.equal(task.attempts, 1, "a run given back is not counted");
      assert.equal(await runsReported(holder, id, ["handback"]), 1, "the stopped one gave it back");
      assert.equal(await runsReported(holder, id), 0);
      await runLogged(other, id);
      assert.equal(await runsReported(other, id), 1);
      assert.equal(await endsRecorded(serve, id), 1);
    });
  },
);
