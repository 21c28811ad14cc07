/**
 * Bug 2 of the hardening issue, the crash half: a channel whose work kills its
 * process every time used to be redelivered forever (a crash redelivery is not
 * a retry, and no broker counts it for us). Here `gamedock serve` runs as a
 * child process whose upload target never answers; the test SIGKILLs it each
 * time it starts uploading the channel and starts it again. The channel's
 * starts are counted in the database, so after packer.retry.maxAttempts starts
 * that did not finish it ends failed with E_ATTEMPTS_EXHAUSTED, and the job ends.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { removeDir, tempDir } from "../helpers/cli.js";
import type { JobJson } from "./jobs.js";
import { kill9, spawnGamedock, type ServeProcess } from "./serve-process.js";

const MAX_ATTEMPTS = 3;

/** A TCP server that accepts connections and never answers: an upload to it hangs. */
async function blackHole(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0, sockets };
}

async function getJob(url: string, id: string): Promise<JobJson> {
  const response = await fetch(`${url}/api/v1/pack-jobs/${id}`);
  return (await response.json()) as JobJson;
}

describe("a channel that kills its process every time", () => {
  let dir = "";
  let hole: Awaited<ReturnType<typeof blackHole>>;
  let serve: ServeProcess | null = null;

  before(async () => {
    dir = await tempDir("gamedock-poison-");
    hole = await blackHole();
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({
        data: join(dir, "data"),
        targets: {
          hole: {
            driver: "s3",
            endpoint: `http://127.0.0.1:${hole.port}`,
            bucket: "never",
            accessKeyId: "k",
            secretAccessKey: "s",
            forcePathStyle: true,
            serverSideCopy: false, // the upload stage is the one under test
          },
        },
        packer: { target: "hole", retry: { maxAttempts: MAX_ATTEMPTS } },
        log: { level: "info", file: join(dir, "gamedock.log") },
      }),
    );
  });
  after(async () => {
    if (serve) await kill9(serve);
    for (const socket of hole.sockets) socket.destroy();
    await new Promise<void>((resolve) =>
      hole.server.close(() => {
        resolve();
      }),
    );
    await removeDir(dir);
  });

  const start = () => spawnGamedock(["serve", "--config", join(dir, "config.json"), "--port", "0"]);

  it("ends failed after maxAttempts unfinished starts instead of looping", async () => {
    serve = await start();
    const created = await fetch(`${serve.url}/api/v1/pack-jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apk: "demo.apk", channels: ["poison"] }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as JobJson;

    let kills = 0;
    let seen = 0; // starts seen so far
    for (;;) {
      const deadline = Date.now() + 60_000;
      let job = await getJob(serve.url, id);
      // Wait for the next start of the upload (or the end of the job).
      while (
        job.finishedAt === null &&
        !(job.channels[0]!.state === "uploading" && job.channels[0]!.attempts > seen)
      ) {
        if (Date.now() > deadline) throw new Error(`no progress: ${JSON.stringify(job)}`);
        await delay(20);
        job = await getJob(serve.url, id);
      }
      if (job.finishedAt !== null) {
        const [channel] = job.channels;
        assert.equal(job.status, "failed");
        assert.equal(channel?.state, "failed");
        assert.equal(channel.error?.code, "E_ATTEMPTS_EXHAUSTED", channel.error?.message);
        // One pack that finished, then MAX_ATTEMPTS upload starts that did not.
        assert.equal(channel.attempts, MAX_ATTEMPTS + 1);
        assert.equal(kills, MAX_ATTEMPTS, "killed once per unfinished start, then it gave up");
        break;
      }
      seen = job.channels[0]!.attempts;
      assert.ok(
        kills <= MAX_ATTEMPTS,
        `still looping after ${kills} kills: ${JSON.stringify(job)}`,
      );
      // The upload hangs on the black hole: the process is "stuck" in it. Kill it.
      await kill9(serve);
      kills++;
      serve = await start();
    }
  });
});
