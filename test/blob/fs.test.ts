/**
 * The fs driver: the conformance suite on a temp directory, plus what only the
 * fs driver promises (files at the key's path, its own area `.gamedock/` with
 * one temp directory, leftovers of killed writers removed), the key rules,
 * and that the embedded default never loads the AWS SDK.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  openBlobStore,
  validateBlobKey,
  validateBlobPrefix,
  type BlobStore,
} from "../../src/blob/index.js";
import { HOST_DIR } from "../../src/blob/fs/fs-layout.js";
import { GamedockError } from "../../src/core/errors.js";
import { ROOT } from "../helpers/cli.js";
import { bytesOf, listAll, rejectsWith } from "./blob-kit.js";
import { blobStoreConformance } from "./conformance.js";

/** Above Linux's largest possible pid (PID_MAX_LIMIT = 2^22): never a live process. */
const DEAD_PID = 2 ** 22 + 1;
const MiB = 1024 * 1024;

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), "gamedock-blob-fs-"));
}

const tempName = (pid: number): string => `.gamedock-${pid}-${randomBytes(4).toString("hex")}.tmp`;

blobStoreConformance("fs", async () => {
  const root = await tempRoot();
  const store = await openBlobStore({ driver: "fs", root });
  return {
    store,
    multipart: false,
    compose: true,
    readsUploadsInProgress: true,
    largeFileSize: 4 * MiB,
    // A crash mid-write leaves the temp file of a process that no longer exists.
    async leaveIncompleteUpload(_key, file) {
      await copyFile(file, join(root, ".gamedock", "tmp", HOST_DIR, tempName(DEAD_PID)));
    },
    reopen: () => openBlobStore({ driver: "fs", root }),
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

/** Runs killed-writer.ts until its temp file holds 3 MiB, then SIGKILLs it; returns the temp's name. */
async function killWhileWriting(root: string, key: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "killed-writer.ts"), root, key],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = once(child, "exit");
  let output = "";
  for await (const chunk of child.stdout.setEncoding("utf8")) {
    output += chunk as string;
    if (output.includes("\n")) break;
  }
  const name = /^writing (\S+)/.exec(output)?.[1];
  child.kill("SIGKILL");
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.ok(name, `the writer said ${JSON.stringify(output)} and ended with ${code} ${signal}`);
  assert.equal(signal, "SIGKILL");
  return name;
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

  it("a writer killed mid-upload leaves a temp file that removeAbandoned on a fresh store removes, and nothing else", async () => {
    const tempDir = join(root, ".gamedock", "tmp", HOST_DIR);
    await store.putStream("killed/kept.bin", Readable.from([Buffer.from("an object")]));
    await store.resumable.begin("killed/upload.bin");
    await store.resumable.append("killed/upload.bin", 0, Readable.from([Buffer.alloc(10, 1)]));
    const live = tempName(process.ppid); // our parent: alive, so a write in progress
    await writeFile(join(tempDir, live), "y");

    const left = await killWhileWriting(root, "killed/big.bin");
    assert.ok((await stat(join(tempDir, left))).size >= 3 * MiB, "the killed write's temp file");
    assert.deepEqual((await readdir(tempDir)).sort(), [left, live].sort());

    const fresh = await openBlobStore({ driver: "fs", root });
    try {
      assert.deepEqual(await fresh.incompleteUploads(), [], "a temp file is not an upload");
      assert.equal(await fresh.removeAbandoned(), 1);
      assert.deepEqual(await readdir(tempDir), [live]);
      assert.equal(await fresh.removeAbandoned(), 0);
      assert.equal(await fresh.head("killed/big.bin"), null, "the killed write never appeared");
      assert.equal((await bytesOf(await fresh.get("killed/kept.bin"))).toString(), "an object");
      assert.equal(await fresh.resumable.offset("killed/upload.bin"), 10);
    } finally {
      await fresh.close();
      await rm(join(tempDir, live), { force: true });
      await store.resumable.abort("killed/upload.bin");
    }
  });

  it("judges another host's temp files by age, since its pids cannot be checked here", async () => {
    const elsewhere = join(root, ".gamedock", "tmp", "other-host");
    await mkdir(elsewhere, { recursive: true });
    const writing = join(elsewhere, tempName(DEAD_PID)); // that pid may be alive over there
    await writeFile(writing, "a write in progress on another machine");
    assert.equal(await store.removeAbandoned(), 0);
    assert.deepEqual(await readdir(elsewhere), [basename(writing)]);
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3_600_000);
    await utimes(writing, twoDaysAgo, twoDaysAgo);
    assert.equal(await store.removeAbandoned(), 1);
    await assert.rejects(
      readdir(elsewhere),
      { code: "ENOENT" },
      "a gone host's directory goes too",
    );
  });

  it("keeps its own files in .gamedock/, which list never shows and no key may name", async () => {
    await store.resumable.begin("area/upload.bin");
    await store.resumable.append("area/upload.bin", 0, Readable.from([Buffer.from("partial")]));
    await writeFile(join(root, ".gamedock", "tmp", HOST_DIR, tempName(DEAD_PID)), "x");
    const own = (await filesUnder(root)).filter((path) => path.startsWith(".gamedock/"));
    assert.ok(
      own.some((path) => path.startsWith(".gamedock/uploads/")),
      own.join(", "),
    );
    const listed = (await listAll(store, "")).map((info) => info.key);
    assert.deepEqual(
      listed.filter((key) => key.startsWith(".gamedock") || key.startsWith("area/")),
      [],
    );
    assert.deepEqual(await listAll(store, ".gamedock/"), []);
    await rejectsWith(store.get(".gamedock/tmp/x"), "E_BLOB_KEY");
    await rejectsWith(
      store.putStream(".gamedock/uploads/x", Readable.from([Buffer.from("x")])),
      "E_BLOB_KEY",
    );
    // An object at a key does not collide with an upload in progress at the same key.
    await store.putStream("area/upload.bin", Readable.from([Buffer.from("old")]));
    await store.resumable.complete("area/upload.bin");
    assert.equal((await bytesOf(await store.get("area/upload.bin"))).toString(), "partial");
    await store.removeAbandoned();
  });

  it("removes the books of an upload a crash cut short once they are old, never a live upload's", async () => {
    const uploads = join(root, ".gamedock", "uploads");
    await store.resumable.begin("books/live.bin");
    const stale = join(uploads, `${"0".repeat(64)}.key`);
    const recent = join(uploads, `${"1".repeat(64)}.key`);
    await writeFile(stale, JSON.stringify({ key: "books/gone.bin" }));
    await writeFile(recent, JSON.stringify({ key: "books/beginning.bin" }));
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(stale, hourAgo, hourAgo);
    for (const name of await readdir(uploads)) await utimes(join(uploads, name), hourAgo, hourAgo);
    await utimes(recent, new Date(), new Date());
    assert.equal(await store.removeAbandoned(), 1);
    const left = await readdir(uploads);
    assert.ok(!left.includes(`${"0".repeat(64)}.key`));
    assert.ok(left.includes(`${"1".repeat(64)}.key`), "may belong to a begin in progress");
    assert.equal(
      await store.resumable.offset("books/live.bin"),
      0,
      "an old upload is still an upload",
    );
    await rm(recent);
    await store.resumable.abort("books/live.bin");
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
    await rejectsWith(store.resumable.begin(`seg/${"x".repeat(300)}`), "E_BLOB_KEY");
    await store.resumable.begin("conflict/a/c");
    await store.resumable.append("conflict/a/c", 0, Readable.from([Buffer.from("3")]));
    await rejectsWith(store.resumable.complete("conflict/a/c"), "E_BLOB_KEY");
    assert.equal(
      await store.resumable.offset("conflict/a/c"),
      1,
      "a refused complete keeps the upload",
    );
    await store.resumable.abort("conflict/a/c");
    assert.deepEqual(await filesUnder(join(root, "conflict")), ["a"]);
    assert.equal(store.publicUrl("conflict/a"), null);
  });
});

/** A key of exactly `bytes` bytes, mostly `unit`s, in segments of at most 241 bytes (any file system holds them). */
function keyOf(unit: string, bytes: number): string {
  const unitBytes = Buffer.byteLength(unit);
  let key = "";
  while (bytes - Buffer.byteLength(key) > 241)
    key += `${unit.repeat(Math.floor(240 / unitBytes))}/`;
  const left = bytes - Buffer.byteLength(key);
  const units = Math.floor(left / unitBytes);
  return key + unit.repeat(units) + "x".repeat(left - units * unitBytes);
}

describe("object keys", () => {
  it("accepts ordinary and UTF-8 keys up to 1024 bytes: each round-trips through put, get and list", async () => {
    const root = await tempRoot();
    const store = await openBlobStore({ driver: "fs", root });
    try {
      const keys = [
        "a",
        "game/1.2/huawei.apk",
        "渠道/华为 应用.apk",
        "..a/b..",
        ".hidden",
        keyOf("x", 1024),
        keyOf("中", 1024),
      ];
      for (const key of keys) {
        assert.doesNotThrow(
          () => {
            validateBlobKey(key);
          },
          key.slice(0, 40),
        );
        const body = Buffer.from(`object ${key}`);
        await store.putStream(key, Readable.from([body]));
        assert.ok((await bytesOf(await store.get(key))).equals(body), key.slice(0, 40));
      }
      assert.deepEqual(
        keys.slice(5).map((key) => Buffer.byteLength(key)),
        [1024, 1024],
      );
      assert.deepEqual(
        (await listAll(store, "")).map((info) => info.key),
        [...keys].sort((a, b) => (a < b ? -1 : 1)),
      );
      // One segment of 1024 bytes is a valid key; a file system cannot name it (255 bytes).
      validateBlobKey("x".repeat(1024));
      await rejectsWith(
        store.putStream("x".repeat(1024), Readable.from([Buffer.from("x")])),
        "E_BLOB_KEY",
      );
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
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
