/**
 * The fs driver: the conformance suite on a temp directory, plus what only the
 * fs driver promises (files at the key's path, temp-file handling), the key
 * rules, and that the embedded default never loads the AWS SDK.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  openBlobStore,
  validateBlobKey,
  validateBlobPrefix,
  type BlobStore,
} from "../../src/blob/index.js";
import { GamedockError } from "../../src/core/errors.js";
import { ROOT } from "../helpers/cli.js";
import { blobStoreConformance, rejectsWith } from "./conformance.js";

/** Above Linux's largest possible pid (PID_MAX_LIMIT = 2^22): never a live process. */
const DEAD_PID = 2 ** 22 + 1;

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), "gamedock-blob-fs-"));
}

blobStoreConformance("fs", async () => {
  const root = await tempRoot();
  const store = await openBlobStore({ driver: "fs", root });
  return {
    store,
    resumable: false,
    largeFileSize: 4 * 1024 * 1024,
    // A crash mid-write leaves the temp file of a process that no longer exists.
    async leaveIncompleteUpload(key, file) {
      const dir = join(root, dirname(key));
      await mkdir(dir, { recursive: true });
      await copyFile(
        file,
        join(dir, `.gamedock-${DEAD_PID}-${randomBytes(4).toString("hex")}.tmp`),
      );
    },
    async close() {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

/** Every file under `dir`, relative, '/'-separated. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("fs driver specifics", () => {
  let root = "";
  let store: BlobStore;
  before(async () => {
    root = await tempRoot();
    store = await openBlobStore({ driver: "fs", root });
  });
  after(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it("stores each object as a file at its key's path and leaves no temp file", async () => {
    await store.putStream("game/1.2/华为.apk", Readable.from([Buffer.from("apk")]));
    const source = join(root, "..", `src-${randomBytes(3).toString("hex")}.bin`);
    await writeFile(source, "bytes");
    try {
      await store.putFile("game/1.2/xiaomi.apk", source);
    } finally {
      await rm(source, { force: true });
    }
    assert.deepEqual(await filesUnder(root), ["game/1.2/xiaomi.apk", "game/1.2/华为.apk"]);
    assert.equal(await readFile(join(root, "game/1.2/华为.apk"), "utf8"), "apk");
  });

  it("reports only temp files whose writer is gone, and never lists temp files", async () => {
    const dir = join(root, "temps");
    await mkdir(dir, { recursive: true });
    const dead = `.gamedock-${DEAD_PID}-ab12.tmp`;
    const live = `.gamedock-${process.ppid}-cd34.tmp`; // our parent: alive, an upload in progress
    await writeFile(join(dir, dead), "x");
    await writeFile(join(dir, live), "y");
    assert.deepEqual(await store.incompleteUploads("temps/"), [
      { key: `temps/${dead}`, uploadId: dead },
    ]);
    const listed: string[] = [];
    for await (const info of store.list("temps/")) listed.push(info.key);
    assert.deepEqual(listed, []);
    await rejectsWith(
      store.abortUpload({ key: "temps/x.bin", uploadId: "x.bin" }),
      "E_INVALID_REQUEST",
    );
    await store.abortUpload({ key: `temps/${dead}`, uploadId: dead });
    assert.deepEqual((await readdir(dir)).sort(), [live]);
  });

  it("refuses keys the fs layout cannot hold, naming the key", async () => {
    await store.putStream("conflict/a", Readable.from([Buffer.from("1")]));
    const err = await rejectsWith(
      store.putStream("conflict/a/b", Readable.from([Buffer.from("2")])),
      "E_BLOB_KEY",
    );
    assert.match(err.message, /conflict\/a\/b/);
    await rejectsWith(
      store.putFile(".gamedock-1-ab.tmp", join(ROOT, "package.json")),
      "E_BLOB_KEY",
    );
    await rejectsWith(
      store.putFile(`seg/${"x".repeat(300)}`, join(ROOT, "package.json")),
      "E_BLOB_KEY",
    );
    assert.deepEqual(await filesUnder(join(root, "conflict")), ["a"]);
    assert.equal(store.publicUrl("conflict/a"), null);
  });
});

describe("object keys", () => {
  it("accepts ordinary and UTF-8 keys up to 1024 bytes", () => {
    for (const key of [
      "a",
      "game/1.2/huawei.apk",
      "渠道/华为 应用.apk",
      "..a/b..",
      ".hidden",
      "x".repeat(1024),
      "中".repeat(341),
    ]) {
      validateBlobKey(key);
    }
  });

  it("rejects keys that break a rule, with E_BLOB_KEY naming the key and the rule", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["/abs", /empty/],
      ["a//b", /empty/],
      ["trailing/", /empty/],
      ["../x", /'\.' and '\.\.'/],
      ["a/./b", /'\.' and '\.\.'/],
      ["a\u0000b", /control/],
      ["a\u007fb", /control/],
      ["a\u0085b", /control/],
      ["x".repeat(1025), /1024 bytes/],
      ["中".repeat(342), /1024 bytes/],
      ["bad\ud800", /surrogate/],
    ];
    for (const [key, rule] of cases) {
      assert.throws(
        () => {
          validateBlobKey(key);
        },
        (err: unknown) =>
          err instanceof GamedockError &&
          err.code === "E_BLOB_KEY" &&
          rule.test(err.message) &&
          err.message.includes(JSON.stringify(key).slice(1, 30)),
        JSON.stringify(key),
      );
    }
  });

  it("accepts list prefixes that are leading parts of keys", () => {
    for (const prefix of ["", "game/", "game/1.2/hua", "渠", "a/.", "a/.."])
      validateBlobPrefix(prefix);
    for (const prefix of ["/", "../", "a//", "a\u0001"]) {
      assert.throws(() => {
        validateBlobPrefix(prefix);
      }, /E_BLOB_KEY|invalid object key/);
    }
  });
});

describe("driver loading", () => {
  it("refuses an unknown driver with E_CONFIG", async () => {
    await rejectsWith(openBlobStore({ driver: "ftp" } as never), "E_CONFIG");
  });

  it("the fs driver and the public surface never import the AWS SDK statically", async () => {
    // Follow static imports (not `import()`) from src/blob/index.ts and fs.ts through the repository.
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, "utf8");
      for (const match of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)) {
        const spec = match[1]!;
        if (spec.startsWith(".")) await visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
        else external.add(spec);
      }
    };
    await visit(join(ROOT, "src/blob/index.ts"));
    await visit(join(ROOT, "src/blob/fs/fs.ts"));
    assert.ok(seen.has(join(ROOT, "src/blob/fs/fs-atomic.ts")));
    assert.deepEqual(
      [...external].filter((spec) => spec.includes("aws-sdk") || spec.includes("@smithy")),
      [],
    );
  });
});
