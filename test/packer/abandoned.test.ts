/**
 * Bug 4 of the hardening issue: a process killed while it wrote a child into
 * the fs upload target left `.gamedock-<dead pid>-*.tmp` (the size of a child)
 * there forever. The packaging service now removes such leftovers of dead
 * writers from every fs target at start-up and with every recovery sweep, and
 * leaves a live writer's temp file alone.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { tempDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A pid that certainly belongs to no process any more: one that just exited. */
const deadPid = (): number => spawnSync("true").pid ?? 4_194_304;

describe("temp files of dead writers in fs upload targets", () => {
  let server: TestServer | undefined;
  after(async () => {
    await server?.close();
  });

  it("are removed at start and by the periodic sweep; a live writer's stays", async () => {
    // A target of the packer's own (the file service sweeps its target itself).
    const apks = (data: string) => ({
      targets: { fs: { driver: "fs", root: "" }, apks: { driver: "fs", root: join(data, "apks") } },
    });
    const first = await tempDir("gamedock-abandoned-");
    server = await startTestServer(
      { ...apks(first), packer: { sweepIntervalMs: 200, target: "apks" } },
      { data: first },
    );
    const temps = join(server.data, "apks", ".gamedock", "tmp", hostname());
    await mkdir(temps, { recursive: true });
    const dead = join(temps, `.gamedock-${deadPid()}-0123abcd.tmp`);
    const live = join(temps, `.gamedock-${process.ppid}-4567cdef.tmp`); // our parent: alive
    await writeFile(dead, Buffer.alloc(1024 * 1024));
    await writeFile(live, Buffer.alloc(1024));
    const deadline = Date.now() + 30_000;
    while (await exists(dead)) {
      if (Date.now() > deadline) throw new Error("the dead writer's temp file is still there");
      await delay(50);
    }
    assert.ok(await exists(live), "a live writer's temp file is not touched");

    // And at start-up, before any sweep interval passes.
    const data = server.data;
    await server.close();
    server = undefined;
    const again = join(temps, `.gamedock-${deadPid()}-89abcdef.tmp`);
    await writeFile(again, Buffer.alloc(1024));
    server = await startTestServer(
      { ...apks(data), packer: { sweepIntervalMs: 3_600_000, target: "apks" } },
      { data },
    );
    assert.equal(await exists(again), false, "removed as the server started");
    assert.ok(await exists(live));
  });
});
