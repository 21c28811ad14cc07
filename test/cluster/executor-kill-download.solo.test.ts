/**
 * `kill -9` of an executor in the middle of a 50 MB input download, and its
 * restart with the same cache directory (so the same executor id). The input
 * comes through a proxy that lets 10 MB/s through, so on loopback the
 * download lasts seconds and the kill lands when the proxy has sent 40% of
 * it. After the restart the download goes on from where the bytes on disk
 * end (a Range request), and the task ends once.
 *
 * Multi-process: run this file alone.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
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
} from "./cluster-procs.js";
import { startCountingProxy, type CountingProxy } from "./counting-proxy.js";

const INPUT_BYTES = 50 * 1024 * 1024;
const RATE = 10 * 1024 * 1024;

async function randomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= 1024 * 1024) {
    if (!out.write(randomBytes(Math.min(left, 1024 * 1024)))) {
      await once(out, "drain");
    }
  }
  out.end();
  await finished(out);
}

describe(
  "an executor killed in the middle of an input download",
  { skip: await skipUnlessService("redis"), timeout: 600_000 },
  () => {
    let dir = "";
    let prefix = "";
    let serve: ClusterServe;
    let proxy: CountingProxy;
    let executor: ExecutorProcess;
    let spec: ExecutorSpec;

    before(async () => {
      dir = await tempDir("gamedock-kill-download-");
      prefix = uniquePrefix("killdl");
      serve = await startClusterServe({ dir, prefix });
      proxy = await startCountingProxy(serve.url);
      spec = { name: "exec-x", dir, prefix, server: proxy.url, tools: { sh: "/bin/sh" } };
      executor = await startExecutor(spec);
    });
    after(async () => {
      await stopGracefully(executor.process);
      await serve.close();
      await proxy.close();
      await dropRedisPrefix(prefix);
      await removeDir(dir);
    });

    it("resumes the download after a restart and finishes the task once", async (t) => {
      const tool = await serve.store("tool.sh", FIXTURE_TOOL);
      const file = join(dir, "big.bin");
      await randomFile(file, INPUT_BYTES);
      const big = await serve.store("big.bin", file);
      proxy.throttle(RATE);
      const created = await serve.submit({
        tool: "sh",
        args: ["tool.sh", "count", "big.bin"],
        inputs: [
          { path: "tool.sh", ...tool },
          { path: "big.bin", ...big },
        ],
      });
      await proxy.waitForInputBytes(big.sha256, 0.4 * INPUT_BYTES);
      const killedId = executor.id;
      await kill9(executor.process);
      const atKill = proxy.inputBytes(big.sha256);
      assert.ok(atKill < INPUT_BYTES, `the kill landed mid-transfer (${atKill} bytes sent)`);
      assert.equal((await serve.task(created.id)).status, "staging");

      const restarted = await startExecutor(spec);
      executor = restarted;
      assert.equal(restarted.id, killedId, "the same cache directory is the same executor");
      const task = await serve.waitTask(created.id);

      assert.equal(task.status, "done", JSON.stringify(task));
      assert.equal(task.result?.stdout.trim(), String(INPUT_BYTES), "the input was staged whole");
      assert.equal(task.executor, restarted.id);
      const total = proxy.inputBytes(big.sha256);
      assert.ok(
        total < 1.2 * INPUT_BYTES,
        `${total} bytes fetched in total for a ${INPUT_BYTES}-byte input`,
      );
      const ranges = proxy.inputRanges(big.sha256);
      t.diagnostic(
        `sent at the kill: ${atKill}; in total: ${total}; requests: ${ranges.join(", ")}`,
      );
      assert.equal(ranges[0], "", "the first download starts at byte 0");
      assert.ok(
        ranges.slice(1).some((range) => /^bytes=[1-9]\d*-$/.test(range)),
        `a later request resumes with a Range: ${JSON.stringify(ranges)}`,
      );
      // Once: the killed run counts as a run lost, the second one is the one reported and recorded.
      assert.equal(task.attempts, 2, "the killed run and the one that finished");
      await runLogged(restarted, created.id);
      assert.equal(await runsReported(restarted, created.id), 1, "one run reported");
      assert.equal(await endsRecorded(serve, created.id), 1, "one end recorded");
    });
  },
);
