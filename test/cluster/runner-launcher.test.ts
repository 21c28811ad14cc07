/**
 * The launcher process that starts every tool (runner/launcher-main.ts): a
 * launcher that dies takes its tools with it and fails their runs with a
 * message that says so, the next run starts a new one; a runner process that
 * dies, even by kill -9, leaves no tool running.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runTool } from "../../src/cluster/runner/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { fixtureRequest, liveMembers, readPids, runToEnd, waitFor } from "./runner-kit.js";

/** Pids of the live children of `parent` running the launcher. */
async function launchersOf(parent: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) !== parent || fields[0] === "Z") continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("launcher-main")) found.push(Number(name));
  }
  return found;
}

/** Whether `pid` is a live process (a zombie is dead, waiting to be reaped). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return (
    stat !== "" &&
    !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3))
  );
}

describe("the tool launcher", { timeout: 120_000 }, () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("gamedock-launcher-");
  });
  after(async () => {
    await removeDir(dir);
  });

  it("is one process for every run, and a launcher that dies takes its tools and fails their runs", async () => {
    const request = { ...fixtureRequest(join(dir, "a"), "group"), timeoutMs: 600_000 };
    const run = runTool(request);
    const { pgid } = await readPids(request.sandbox);
    const second = runTool({ ...fixtureRequest(join(dir, "b"), "group"), timeoutMs: 600_000 });
    await readPids(join(dir, "b", "sandbox"));
    const launchers = await launchersOf(process.pid);
    assert.equal(launchers.length, 1, "both runs went through one launcher");

    process.kill(launchers[0]!, "SIGKILL");
    const result = await run.result;
    assert.equal(result.error?.code, "E_INTERNAL");
    assert.match(result.error.message, /launcher died while the tool ran; the tool was killed/);
    await waitFor(async () => (await liveMembers(pgid)).length === 0);
    assert.equal((await second.result).error?.code, "E_INTERNAL");
    await run.cleanup();
    await second.cleanup();

    // The next run starts a new launcher and runs as usual.
    const { run: next, result: ok } = await runToEnd(
      fixtureRequest(join(dir, "c"), "shout", ["2"]),
    );
    assert.equal(ok.exitCode, 0, JSON.stringify(ok));
    assert.equal(ok.error, undefined);
    assert.equal(ok.stdoutTail, "1\n2\n");
    const now = await launchersOf(process.pid);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], launchers[0]);
    await next.cleanup();
  });

  it("kills the tools of a runner process killed with -9, and exits", async () => {
    const script = fileURLToPath(new URL("./fixtures/run-group.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, join(dir, "d")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let line = "";
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        line += chunk;
        if (line.includes("\n")) resolve();
      });
    });
    const [runner, pgid] = line.trim().split(" ").map(Number);
    const [launcher] = await launchersOf(runner!);
    assert.ok(launcher, "the runner process has a launcher");
    assert.ok((await liveMembers(pgid!)).length > 0, "the tool runs");

    child.kill("SIGKILL");
    await waitFor(async () => (await liveMembers(pgid!)).length === 0);
    await waitFor(async () => !(await running(launcher)));
  });
});
