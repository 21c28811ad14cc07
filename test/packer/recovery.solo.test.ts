/**
 * Crash recovery, for real: `gamedock serve` as a child process packs 20
 * channels of a ~60 MB APK into S3 (s3rver on loopback, 5 MiB multipart parts)
 * and notifies a webhook of each channel. It is killed with SIGKILL while
 * packing and again while a multipart upload is half done, then restarted.
 * Every channel must end done exactly once, each object byte-identical to
 * `gamedock pack`'s child, with no temp file, no incomplete multipart upload
 * and no lost notification (a repeat carries the same idempotency key).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { buildSignedApk } from "../../scripts/signed-apk.js";
import { openBlobStore, type BlobStore } from "../../src/blob/index.js";
import { removeDir, runCli, tempDir } from "../helpers/cli.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { waitForJob } from "../helpers/serve.js";
import { skipUnlessTool } from "../helpers/tools.js";
import { api } from "./crash-kit.js";
import type { JobJson } from "./jobs.js";
import { kill9, spawnGamedock, type ServeProcess } from "./serve-process.js";

const CHANNELS = Array.from({ length: 20 }, (_, i) => `ch${String(i).padStart(2, "0")}`);
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

async function until(check: () => boolean, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function findFiles(dir: string, match: RegExp): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (match.test(entry.name)) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

describe(
  "kill -9 during packing and uploading",
  { skip: skipUnlessTool("apksigner", "aapt", "zipalign") },
  () => {
    let dir = "";
    let data = "";
    let s3: S3rverHandle;
    let hook: Receiver;
    let store: BlobStore;
    let serve: ServeProcess | null = null;
    const config = (): string => join(dir, "config.json");

    before(async () => {
      dir = await tempDir("gamedock-recovery-");
      data = join(dir, "data");
      s3 = await startS3rver();
      hook = await startReceiver("recovery-secret");
      const target = s3TargetOf(s3, { partConcurrency: 1 });
      store = await openBlobStore(target);
      await writeFile(
        config(),
        JSON.stringify({
          data,
          server: { port: 0 },
          log: { level: "info", file: join(dir, "gamedock.log") },
          targets: { s3: target },
          notifiers: {
            hook: { type: "webhook", url: hook.url, secret: "recovery-secret", retries: 0 },
          },
          packer: { target: "s3", concurrency: { pack: 2, retryPack: 1, upload: 2, notify: 4 } },
        }),
      );
      await buildSignedApk(join(data, "packages", "game.apk"), 60);
    });
    after(async () => {
      if (serve) await kill9(serve);
      await store.close();
      await s3.close();
      await hook.close();
      if (!process.env.KEEP) await removeDir(dir);
    });

    it("finishes every channel exactly once after two crashes", async () => {
      serve = await spawnGamedock(["serve", "--config", config()]);
      const created = await api(serve.url, "POST", "/api/v1/pack-jobs", {
        apk: "game.apk",
        channels: CHANNELS,
        notify: { level: "each" },
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const { id } = created.json as JobJson;
      const db = new Database(join(data, "gamedock.db"), { readonly: true, fileMustExist: true });
      const states = () =>
        db.prepare("SELECT state, upload_checkpoint FROM pack_tasks WHERE job_id = ?").all(id) as {
          state: string;
          upload_checkpoint: string | null;
        }[];

      // Crash 1: while children are being packed.
      await until(() => states().some((t) => t.state === "packing"), "a channel packing");
      await kill9(serve);
      const atFirstCrash = states();
      assert.ok(
        atFirstCrash.some((t) => t.state === "packing"),
        "killed during packing",
      );

      // Crash 2: while a multipart upload has stored some of its parts.
      serve = await spawnGamedock(["serve", "--config", config()]);
      await until(
        () =>
          states().some(
            (t) =>
              t.state === "uploading" &&
              t.upload_checkpoint !== null &&
              (JSON.parse(t.upload_checkpoint) as { parts: unknown[] }).parts.length >= 2,
          ),
        "an upload with parts stored",
      );
      await kill9(serve);
      assert.ok((await store.incompleteUploads()).length > 0, "killed during a multipart upload");

      serve = await spawnGamedock(["serve", "--config", config()]);
      const done = await waitForJob<JobJson>(
        { api: (m, p) => api(serve!.url, m, p) },
        id,
        (job) => job.finishedAt !== null,
        240_000,
      );
      db.close();
      assert.equal(
        done.status,
        "done",
        JSON.stringify(done.channels.filter((c) => c.state !== "done")),
      );
      assert.deepEqual(
        done.channels.map((c) => c.channel),
        CHANNELS,
        "each channel once",
      );

      // Byte-identical to what `gamedock pack` writes for the same channels.
      const expected = join(dir, "expected");
      const packed = await runCli([
        "pack",
        join(data, "packages", "game.apk"),
        "-c",
        CHANNELS.join(","),
        "-o",
        expected,
        "--json",
      ]);
      assert.equal(packed.code, 0, packed.stderr);
      const report = JSON.parse(packed.stdout) as { channels: { channel: string; file: string }[] };
      const objects: string[] = [];
      for await (const info of store.list(`pack-jobs/${id}/`)) objects.push(info.key);
      assert.equal(objects.length, CHANNELS.length, "one object per channel, no strays");
      for (const channel of done.channels) {
        const file = report.channels.find((c) => c.channel === channel.channel)!.file;
        const want = sha256(await readFile(file));
        const chunks: Buffer[] = [];
        for await (const chunk of await store.get(channel.output!.key))
          chunks.push(chunk as Buffer);
        assert.equal(
          sha256(Buffer.concat(chunks)),
          want,
          `${channel.channel} equals gamedock pack's`,
        );
        assert.equal(channel.output!.sha256, want);
      }

      // Nothing half-done is left behind.
      assert.deepEqual(await store.incompleteUploads(), [], "no incomplete multipart uploads");
      assert.deepEqual(await findFiles(data, /\.tmp$/), [], "no temp files");
      assert.deepEqual(await findFiles(join(data, "work"), /\.apk$/), [], "no leftover work files");

      // No notification lost; a repeat carries the same idempotency key.
      await until(
        () => hook.received.some((r) => (r.json as { type?: string }).type === "job.finished"),
        "job.finished",
      );
      const events = hook.received.map((r) => ({
        key: r.headers["idempotency-key"],
        signed: r.signatureValid,
        event: r.json as { id: string; type: string; channel?: string },
      }));
      for (const e of events) {
        assert.equal(e.key, e.event.id, "the header carries the event's idempotency key");
        assert.equal(e.signed, true);
      }
      const doneIds = new Set(
        events.filter((e) => e.event.type === "channel.done").map((e) => e.event.id),
      );
      assert.deepEqual(
        [...doneIds].sort(),
        CHANNELS.map((c) => `${id}:${c}:done`),
        "exactly one channel.done event per channel (repeats share its key)",
      );

      // The interrupted upload resumed from its stored parts instead of starting over.
      const log = (await readFile(join(dir, "gamedock.log"), "utf8"))
        .split("\n")
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as { event?: string; resumed?: boolean; partsUploaded?: number },
        );
      const resumed = log.filter((l) => l.event === "uploaded" && l.resumed === true);
      assert.ok(resumed.length > 0, "an upload resumed from its checkpoint");
      const parts = Math.ceil(done.channels[0]!.output!.size / (5 * 1024 * 1024));
      assert.ok(
        resumed.some((l) => l.partsUploaded !== undefined && l.partsUploaded < parts),
        `an upload sent only its missing parts (of ${parts}): ${JSON.stringify(resumed)}`,
      );
      assert.ok(
        log.some((l) => l.event === "recovered"),
        "recovery ran at start-up",
      );
    });
  },
);
