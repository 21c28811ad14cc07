/**
 * Interrupting `pack` for real: Ctrl-C (SIGINT to the whole process group, as
 * a terminal sends it) and kill -9. Either way only complete children remain,
 * and a re-run finishes the job with no temp file left behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildSignedApk } from "../../scripts/signed-apk.js";
import { ROOT, listFiles, removeDir, runCli, tempDir } from "../helpers/cli.js";
import { apksignerVerify, skipUnlessTool } from "../helpers/tools.js";

const CHANNELS = Array.from({ length: 60 }, (_, i) => `ch${String(i).padStart(2, "0")}`);

/**
 * Starts `pack` in its own process group and signals it once it is writing:
 * when the first file shows up in `out`, plus `afterMs`. Waiting for real work
 * instead of a fixed delay keeps the test honest on a slow or busy machine.
 */
function packThenSignal(
  mother: string,
  out: string,
  signal: NodeJS.Signals,
  target: "group" | "process",
  afterMs: number,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "pack", mother];
    const child = spawn(
      process.execPath,
      [...args, "-c", CHANNELS.join(","), "-o", out, "-j", "1"],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    let exited = false;
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      exited = true;
      resolve({ code, stderr });
    });
    const poll = setInterval(() => {
      void listFiles(out).then((files) => {
        if (exited) clearInterval(poll);
        if (exited || !files.some((f) => f.endsWith(".tmp") || f.endsWith(".apk"))) return;
        clearInterval(poll);
        setTimeout(() => {
          if (!exited) process.kill(target === "group" ? -child.pid! : child.pid!, signal);
        }, afterMs);
      });
    }, 20);
  });
}

async function assertOnlyCompleteChildren(out: string, size: number): Promise<string[]> {
  const files = await listFiles(out);
  const children = files.filter((f) => f.endsWith(".apk"));
  assert.deepEqual(
    files.filter((f) => f.endsWith(".tmp")),
    [],
    "no temp files",
  );
  for (const file of children) assert.equal((await stat(join(out, file))).size, size, file);
  return children;
}

describe("interrupting pack", { skip: skipUnlessTool("apksigner", "aapt", "zipalign") }, () => {
  let dir: string;
  let mother: string;
  let childSize: number;
  before(async () => {
    dir = await tempDir("gamedock-interrupt-");
    mother = await buildSignedApk(join(dir, "mother-40m.apk"), 40);
    const probe = join(dir, "probe");
    const result = await runCli(["pack", mother, "-c", "ch00", "-o", probe, "--json"]);
    childSize = (JSON.parse(result.stdout) as { channels: { size: number }[] }).channels[0]!.size;
  });
  after(async () => {
    await removeDir(dir);
  });

  it("Ctrl-C stops at once, keeps finished children and removes the one in flight", async () => {
    const out = join(dir, "sigint");
    const { code, stderr } = await packThenSignal(mother, out, "SIGINT", "group", 300);
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted after \d+ of 60 channels/);
    const children = await assertOnlyCompleteChildren(out, childSize);
    assert.ok(children.length < 60, `${children.length} children before the interrupt`);
    const last = children.at(-1);
    if (last) assert.ok((await apksignerVerify(join(out, last))).ok);
  });

  it("after kill -9, a re-run finishes every channel exactly once and cleans up", async () => {
    const out = join(dir, "sigkill");
    const { code } = await packThenSignal(mother, out, "SIGKILL", "process", 300);
    assert.equal(code, null);
    const rerun = await runCli(["pack", mother, "-c", CHANNELS.join(","), "-o", out, "--json"]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const report = JSON.parse(rerun.stdout) as { channels: { channel: string; status: string }[] };
    assert.deepEqual(
      report.channels.map((c) => c.channel),
      CHANNELS,
    );
    assert.ok(
      report.channels.some((c) => c.status === "skipped"),
      "children from the killed run are kept",
    );
    const children = await assertOnlyCompleteChildren(out, childSize);
    assert.equal(children.length, 60);
    assert.ok((await apksignerVerify(join(out, children[0]!))).ok);
  });
});
