/**
 * The upload pass-through: sha256 and md5 computed on the worker threads
 * equal node:crypto's over the same bytes, for socket-sized chunks, a chunk
 * larger than a worker's buffer, an empty body and several uploads at once;
 * the bytes reach the store unchanged and in order; the size limit still
 * cuts a body off.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DigestMeter } from "../../src/files/digest-meter.js";
import { ROOT } from "../helpers/cli.js";

const MiB = 1024 * 1024;

/** Streams `chunks` through a meter into memory; answers what arrived and the digests. */
async function meter(chunks: Buffer[], limit = 100 * MiB) {
  const m = new DigestMeter({ limit, tooLarge: (size) => new Error(`too large at ${size}`) });
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    m,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return { bytes: Buffer.concat(out), digests: await m.digests() };
}

const expected = (bytes: Buffer) => ({
  size: bytes.length,
  sha256: createHash("sha256").update(bytes).digest("hex"),
  md5: createHash("md5").update(bytes).digest("hex"),
});

describe("the upload digest meter", () => {
  it("hashes socket-sized chunks off the main thread exactly, and passes the bytes on in order", async () => {
    const chunks = Array.from({ length: 100 }, (_, i) => randomBytes(65_536 - i * 7));
    const { bytes, digests } = await meter(chunks);
    const all = Buffer.concat(chunks);
    assert.ok(bytes.equals(all));
    assert.deepEqual(digests, expected(all));
  });

  it("slices a chunk larger than a worker's buffer, and hashes an empty body", async () => {
    const big = randomBytes(5 * MiB + 3);
    assert.deepEqual((await meter([big])).digests, expected(big));
    assert.deepEqual((await meter([])).digests, expected(Buffer.alloc(0)));
  });

  it("keeps several uploads at once apart", async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(3 * MiB + i * 1001));
    const results = await Promise.all(
      bodies.map((body) =>
        meter(
          Array.from({ length: Math.ceil(body.length / 65_536) }, (_, k) =>
            body.subarray(k * 65_536, (k + 1) * 65_536),
          ),
        ),
      ),
    );
    results.forEach((r, i) => {
      assert.deepEqual(r.digests, expected(bodies[i]!));
    });
  });

  it("lets a process that used the hash workers exit once it is idle", () => {
    // The workers are unref'd while nothing is awaited: an idle server (or a test) must not hang.
    const code = `
      import { Readable, Writable } from "node:stream";
      import { pipeline } from "node:stream/promises";
      import { DigestMeter } from ${JSON.stringify(join(ROOT, "src/files/digest-meter.ts"))};
      const m = new DigestMeter({ limit: 1e9 });
      await pipeline(Readable.from([Buffer.from("abc")]), m, new Writable({ write: (_c, _e, cb) => cb() }));
      console.log((await m.digests()).sha256);
    `;
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", code],
      {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), createHash("sha256").update("abc").digest("hex"));
  });

  it("still cuts a body off at the limit", async () => {
    await assert.rejects(meter([randomBytes(MiB), randomBytes(MiB)], MiB + 10), /too large at/);
  });
});
