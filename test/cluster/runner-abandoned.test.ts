/**
 * What a killed executor leaves: its tool's process group keeps running and
 * its sandbox stays on disk. The run record lets the next executor on the
 * same work directory stop that group and remove the directories — and only
 * when the run's executor is gone and the group is the one recorded.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { reapAbandonedRuns, runTool } from "../../src/cluster/runner/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { fixtureRequest, liveMembers, readPids, waitFor } from "./runner-kit.js";

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("runs of a killed executor", () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("gamedock-runner-abandoned-");
  });
  after(async () => {
    await removeDir(dir);
  });

  /** Starts `tool.sh group` and rewrites its record as a dead executor's (or another pid's). */
  async function abandonedRun(name: string, owner: number, tamperTicks = false) {
    const sandbox = join(dir, name);
    const run = runTool({ ...fixtureRequest(dir, "group"), sandbox, timeoutMs: 600_000 });
    await waitFor(() => exists(join(sandbox, "pids")));
    const { pgid, grandchild } = await readPids(sandbox);
    const recordPath = join(`${sandbox}.logs`, "run.json");
    const record = JSON.parse(await readFile(recordPath, "utf8")) as { startTicks: string | null };
    await writeFile(
      recordPath,
      JSON.stringify({ pgid, owner, startTicks: tamperTicks ? "1" : record.startTicks }),
    );
    return { run, sandbox, pgid, grandchild };
  }

  it("stops the group of a dead executor's run and removes its directories", async () => {
    const deadPid = spawnSync("true").pid ?? 4_194_304;
    const { run, sandbox, pgid } = await abandonedRun("dead-owner", deadPid);
    assert.ok((await liveMembers(pgid)).length > 0);
    assert.equal(await reapAbandonedRuns(dir), 1);
    await waitFor(async () => (await liveMembers(pgid)).length === 0);
    assert.equal(await exists(sandbox), false);
    assert.equal(await exists(`${sandbox}.logs`), false);
    await run.cleanup();
  });

  it("leaves a live executor's run alone, and never kills a group whose leader is not the one recorded", async () => {
    const live = await abandonedRun("live-owner", process.ppid);
    const reused = await abandonedRun("reused-pid", spawnSync("true").pid ?? 4_194_304, true);
    assert.equal(await reapAbandonedRuns(dir), 1, "only the run with the dead executor is reaped");
    assert.ok((await liveMembers(live.pgid)).length > 0, "a live executor's tool keeps running");
    assert.ok(await exists(live.sandbox));
    assert.ok((await liveMembers(reused.pgid)).length > 0, "not the recorded group: not killed");
    assert.equal(await exists(reused.sandbox), false, "but its directories are gone");
    await live.run.cleanup();
    await reused.run.cleanup();
  });
});
