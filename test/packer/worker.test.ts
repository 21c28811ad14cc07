/**
 * Split by role: an API-only `gamedock serve --stages upload,notify` and a
 * `gamedock worker --stages pack` process share the SQLite database and queue
 * file; the worker packs every channel, the server uploads them.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixture, removeDir, tempDir } from "../helpers/cli.js";
import { waitForJob } from "../helpers/serve.js";
import type { JobJson } from "./jobs.js";
import { kill9, spawnGamedock, type ServeProcess } from "./serve-process.js";

async function logLines(file: string): Promise<{ event?: string; pid?: number }[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event?: string; pid?: number });
}

describe("gamedock worker beside an API-only server", () => {
  let dir = "";
  const running: ServeProcess[] = [];
  before(async () => {
    dir = await tempDir("gamedock-worker-");
    await mkdir(join(dir, "data", "packages"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(dir, "data", "packages", "demo.apk"));
    await writeFile(join(dir, "config.json"), JSON.stringify({ data: join(dir, "data") }));
  });
  after(async () => {
    for (const process of running) await kill9(process);
    await removeDir(dir);
  });

  it("the worker packs, the server uploads, the job finishes", async () => {
    const config = join(dir, "config.json");
    const serve = await spawnGamedock([
      "serve",
      "--config",
      config,
      "--port",
      "0",
      "--stages",
      "upload,notify",
      "--log-file",
      join(dir, "serve.log"),
    ]);
    running.push(serve);
    const worker = await spawnGamedock([
      "worker",
      "--config",
      config,
      "--stages",
      "pack",
      "--log-file",
      join(dir, "worker.log"),
    ]);
    running.push(worker);
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${serve.url}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json: unknown = await response.json();
      return { status: response.status, json };
    };
    const channels = Array.from({ length: 12 }, (_, i) => `w${i}`);
    const created = await api("POST", "/api/v1/pack-jobs", { apk: "demo.apk", channels });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const done = await waitForJob<JobJson>({ api }, (created.json as JobJson).id);
    assert.equal(done.status, "done");
    const workerLog = await logLines(join(dir, "worker.log"));
    const serveLog = await logLines(join(dir, "serve.log"));
    assert.equal(workerLog.filter((l) => l.event === "packed").length, channels.length);
    assert.equal(serveLog.filter((l) => l.event === "packed").length, 0, "serve does not pack");
    assert.equal(serveLog.filter((l) => l.event === "uploaded").length, channels.length);

    // SIGTERM stops both gracefully.
    serve.child.kill("SIGTERM");
    worker.child.kill("SIGTERM");
    assert.equal(await serve.exited, 0);
    assert.equal(await worker.exited, 0);
    running.length = 0;
  });
});
