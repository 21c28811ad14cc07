/**
 * Every bad input `pack` can meet: a stable code, the right exit status, a
 * message naming the input, and nothing left behind in the output directory.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { apksignerVerify, skipUnlessTool } from "../helpers/tools.js";
import {
  errorCode,
  fixture,
  isRoot,
  listFiles,
  removeDir,
  runCli,
  tempDir,
  useTempDir,
} from "../helpers/cli.js";

async function expectRefusal(
  args: string[],
  expected: { code: string; exit: number; mentions: RegExp },
  outDir: string,
  options: { unprivileged?: boolean } = {},
): Promise<void> {
  const before = await listFiles(outDir);
  const result = await runCli(args, options);
  assert.equal(errorCode(result), expected.code, result.stderr);
  assert.equal(result.code, expected.exit, result.stderr);
  assert.match(result.stderr, expected.mentions);
  assert.equal(result.stdout, "");
  assert.deepEqual(await listFiles(outDir), before, "no leftovers in the output directory");
}

describe("pack refuses bad input", () => {
  let dir = "";
  let out = "";
  useTempDir((d) => {
    dir = d;
    out = join(d, "out");
  });

  it("not a zip", async () => {
    const file = join(dir, "notes.apk");
    await writeFile(file, "this is not an APK\n".repeat(10));
    await expectRefusal(
      ["pack", file, "-c", "a", "-o", out],
      { code: "E_NOT_ZIP", exit: 3, mentions: /notes\.apk/ },
      out,
    );
  });

  it("a truncated APK, cut at several points", async () => {
    const bytes = await readFile(fixture("v1v2v3.apk"));
    for (const keep of [100, Math.floor(bytes.length / 2), bytes.length - 30]) {
      const file = join(dir, `cut-${keep}.apk`);
      await writeFile(file, bytes.subarray(0, keep));
      await expectRefusal(
        ["pack", file, "-c", "a", "-o", out],
        { code: "E_TRUNCATED", exit: 3, mentions: /truncated|corrupt/ },
        out,
      );
    }
  });

  it("zip64", async () => {
    const src = join(dir, "z64src");
    await mkdir(src);
    await writeFile(join(src, "AndroidManifest.xml"), "x");
    const file = join(dir, "zip64.apk");
    execFileSync("zip", ["-q", "-fz", file, "AndroidManifest.xml"], { cwd: src });
    await expectRefusal(
      ["pack", file, "-c", "a", "-o", out],
      { code: "E_ZIP64", exit: 3, mentions: /zip64/ },
      out,
    );
  });

  it("a zip without AndroidManifest.xml", async () => {
    const src = join(dir, "nomanifest");
    await mkdir(src);
    await writeFile(join(src, "readme.txt"), "hello");
    const file = join(dir, "nomanifest.apk");
    execFileSync("zip", ["-q", file, "readme.txt"], { cwd: src });
    await expectRefusal(
      ["pack", file, "-c", "a", "-o", out],
      { code: "E_NO_MANIFEST", exit: 3, mentions: /AndroidManifest\.xml/ },
      out,
    );
  });

  it("an unsigned APK, unless --allow-unsigned", async () => {
    await expectRefusal(
      ["pack", fixture("unsigned.apk"), "-c", "a", "-o", out],
      { code: "E_UNSIGNED", exit: 3, mentions: /--allow-unsigned/ },
      out,
    );
    const allowed = join(dir, "unsigned-out");
    const result = await runCli([
      "pack",
      fixture("unsigned.apk"),
      "-c",
      "a",
      "-o",
      allowed,
      "--allow-unsigned",
      "--json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await listFiles(allowed)).length, 1);
  });

  it("a directory instead of a file", async () => {
    await expectRefusal(
      ["pack", dir, "-c", "a", "-o", out],
      { code: "E_NOT_A_FILE", exit: 3, mentions: /not a regular file/ },
      out,
    );
  });

  it("a missing mother exits 4", async () => {
    await expectRefusal(
      ["pack", join(dir, "missing.apk"), "-c", "a", "-o", out],
      { code: "E_NOT_FOUND", exit: 4, mentions: /missing\.apk/ },
      out,
    );
  });

  it("a mother without read permission", async () => {
    const file = join(dir, "secret.apk");
    await copyFile(fixture("v1v2v3.apk"), file);
    await chmod(file, 0o000);
    await expectRefusal(
      ["pack", file, "-c", "a", "-o", out],
      { code: "E_NO_PERMISSION", exit: 3, mentions: /secret\.apk/ },
      out,
      { unprivileged: true },
    );
  });

  it("an output directory that cannot be written", async () => {
    const locked = join(dir, "locked");
    await mkdir(locked);
    await chmod(locked, 0o555);
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", locked],
      { code: "E_OUTPUT_DIR", exit: 3, mentions: /locked.*not writable/ },
      locked,
      { unprivileged: true },
    );
    const underFile = join(dir, "notes.apk", "sub");
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", underFile],
      { code: "E_OUTPUT_DIR", exit: 3, mentions: /cannot be created/ },
      underFile,
    );
  });

  // Node's recursive mkdir loops forever on /proc's ENOENT: this hung for minutes
  // at full CPU. The test's timeout is the guard; its signal kills a hung CLI.
  it(
    "an output directory where nothing can be created: /proc and /sys",
    { timeout: 120_000 },
    async (t) => {
      for (const target of ["/proc/nope", "/sys/nope", "/proc/nope/deeper"]) {
        const result = await runCli(["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", target], {
          signal: t.signal,
        });
        assert.equal(errorCode(result), "E_OUTPUT_DIR", result.stderr);
        assert.equal(result.code, 3);
        assert.match(result.stderr, new RegExp(`output directory ${target} cannot be created`));
        assert.match(result.stderr, /choose another with -o/);
        assert.equal(result.stdout, "");
      }
    },
  );

  it("invalid channels, from -c and from a file (with its line)", async () => {
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "ok,bad/one", "-o", out],
      { code: "E_CHANNEL_INVALID", exit: 3, mentions: /"bad\/one"/ },
      out,
    );
    const list = join(dir, "bad-channels.txt");
    await writeFile(list, "huawei\n\n" + "x".repeat(65) + "\n");
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-f", list, "-o", out],
      { code: "E_CHANNEL_INVALID", exit: 3, mentions: /line 3.*65 characters/ },
      out,
    );
  });

  it("extras the format cannot hold, and a channels file that is empty or missing", async () => {
    await expectRefusal(
      ["pack", fixture("v1only.apk"), "-c", "a", "-e", "k=v", "-o", out],
      { code: "E_EXTRA_INVALID", exit: 3, mentions: /no APK Signing Block/ },
      out,
    );
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a", "-e", "k=v", "--format", "vasdolly", "-o", out],
      { code: "E_EXTRA_INVALID", exit: 3, mentions: /--format walle or both/ },
      out,
    );
    const empty = join(dir, "empty.txt");
    await writeFile(empty, "# nothing here\n\n");
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-f", empty, "-o", out],
      { code: "E_CHANNEL_FILE", exit: 3, mentions: /lists no channels/ },
      out,
    );
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-f", join(dir, "nope.txt"), "-o", out],
      { code: "E_NOT_FOUND", exit: 4, mentions: /nope\.txt/ },
      out,
    );
  });

  it("a duplicate across -c and -f names both places", async () => {
    const list = join(dir, "dup.txt");
    await writeFile(list, "x\nhuawei\n");
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "huawei", "-f", list, "-o", out],
      { code: "E_CHANNEL_DUPLICATE", exit: 3, mentions: /-c item 1 and .*dup\.txt line 2/ },
      out,
    );
  });

  it("an output path that is a file", async () => {
    const file = join(dir, "plain-file");
    await writeFile(file, "x");
    const result = await runCli(["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", file]);
    assert.equal(errorCode(result), "E_OUTPUT_DIR");
    assert.match(result.stderr, /not a directory/);
  });

  it("duplicate channels", async () => {
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a,b,a", "-o", out],
      { code: "E_CHANNEL_DUPLICATE", exit: 3, mentions: /"a" is listed twice/ },
      out,
    );
  });

  it("an unknown template field, and a template that makes names collide", async () => {
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", out, "--name", "{package}-{flavour}.apk"],
      { code: "E_TEMPLATE_FIELD", exit: 3, mentions: /\{flavour\}/ },
      out,
    );
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a,b", "-o", out, "--name", "{package}.apk"],
      { code: "E_OUTPUT_NAME", exit: 3, mentions: /also uses/ },
      out,
    );
  });

  it("no channels, or a bad -j, is a usage error", async () => {
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-o", out],
      { code: "E_USAGE", exit: 2, mentions: /-c a,b,c or -f/ },
      out,
    );
    await expectRefusal(
      ["pack", fixture("v1v2v3.apk"), "-c", "a", "-j", "0", "-o", out],
      { code: "E_USAGE", exit: 2, mentions: /jobs/ },
      out,
    );
  });
});

/** ENOSPC for real: a 64 KiB tmpfs fills up part-way through the children. */
describe(
  "pack on a full disk",
  { skip: isRoot() ? skipUnlessTool("apksigner") : "needs root to mount a tiny tmpfs" },
  () => {
    for (const copier of ["cp", "node"]) {
      it(`stops, removes the temp file and says what to do (copier ${copier})`, async () => {
        const dir = await tempDir();
        const mount = join(dir, "tiny");
        await mkdir(mount);
        try {
          execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]);
        } catch (err) {
          if (process.env.GAMEDOCK_REQUIRE_TOOLS === "1") throw err;
          process.stderr.write(
            `\n!!! SKIPPED disk-full test: cannot mount tmpfs (${String(err)})\n\n`,
          );
          await removeDir(dir);
          return;
        }
        try {
          const channels = Array.from({ length: 40 }, (_, i) => `c${i}`).join(",");
          const result = await runCli(
            ["pack", fixture("v1v2v3.apk"), "-c", channels, "-o", mount, "-j", "2"],
            { env: { GAMEDOCK_COPIER: copier } },
          );
          assert.equal(errorCode(result), "E_DISK_FULL", result.stderr);
          assert.equal(result.code, 3);
          assert.match(result.stderr, /no space left on device/);
          const files = await listFiles(mount);
          assert.deepEqual(
            files.filter((f) => f.startsWith(".gamedock-")),
            [],
            "temp files removed",
          );
          assert.ok(files.length > 0 && files.length < 40, `${files.length} children fit`);
          // What was renamed into place is complete: every child verifies.
          for (const file of files) assert.ok((await apksignerVerify(join(mount, file))).ok, file);
        } finally {
          execFileSync("umount", [mount]);
          await removeDir(dir);
        }
      });
    }
  },
);

/** A read-only mount: root could write anywhere else, so only trying to create tells. */
describe(
  "pack into a read-only mount",
  { skip: isRoot() ? false : "needs root to mount a read-only tmpfs" },
  () => {
    it("refuses to create or write the output directory, naming it", async () => {
      const dir = await tempDir();
      const mount = join(dir, "ro");
      await mkdir(mount);
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mount]);
      } catch (err) {
        if (process.env.GAMEDOCK_REQUIRE_TOOLS === "1") throw err;
        process.stderr.write(
          `\n!!! SKIPPED read-only test: cannot mount tmpfs (${String(err)})\n\n`,
        );
        await removeDir(dir);
        return;
      }
      try {
        const sub = join(mount, "sub");
        const create = await runCli(["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", sub]);
        assert.equal(errorCode(create), "E_OUTPUT_DIR", create.stderr);
        assert.equal(create.code, 3);
        assert.match(create.stderr, new RegExp(`${sub} cannot be created \\(EROFS\\)`));
        const write = await runCli(["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", mount]);
        assert.equal(errorCode(write), "E_OUTPUT_DIR", write.stderr);
        assert.match(write.stderr, new RegExp(`${mount} is not writable \\(EROFS\\)`));
      } finally {
        execFileSync("umount", [mount]);
        await removeDir(dir);
      }
    });
  },
);

describe("channel put and remove refuse bad input", () => {
  let dir = "";
  useTempDir((d) => (dir = d));

  it("an unsigned APK, a bad channel id and a missing output directory leave the APK as it was", async () => {
    const apk = join(dir, "unsigned.apk");
    await copyFile(fixture("unsigned.apk"), apk);
    const original = await readFile(apk);
    const unsigned = await runCli(["channel", "put", apk, "huawei"]);
    assert.equal(errorCode(unsigned), "E_UNSIGNED");
    assert.equal(unsigned.code, 3);
    const badId = await runCli(["channel", "put", apk, "a|b", "--allow-unsigned"]);
    assert.equal(errorCode(badId), "E_CHANNEL_INVALID");
    assert.match(badId.stderr, /argument <channel>/);
    const noDir = await runCli([
      "channel",
      "put",
      fixture("v1v2v3.apk"),
      "huawei",
      "-o",
      join(dir, "missing", "out.apk"),
    ]);
    assert.equal(errorCode(noDir), "E_NOT_FOUND", noDir.stderr);
    assert.equal(noDir.code, 4);
    assert.match(noDir.stderr, /missing/);
    assert.ok((await readFile(apk)).equals(original));
    assert.deepEqual(await listFiles(dir), ["unsigned.apk"]);
  });

  it("a malformed Walle channel is reported by get and can be removed", async () => {
    const child = join(dir, "malformed.apk");
    const put = await runCli(["channel", "put", fixture("v1v2v3.apk"), "huawei", "-o", child]);
    assert.equal(put.code, 0, put.stderr);
    const bytes = await readFile(child);
    const json = bytes.indexOf(Buffer.from('{"channel":'));
    assert.ok(json > 0);
    bytes[json] = 0x58; // "X": no longer JSON; the signed bytes are untouched
    await writeFile(child, bytes);
    const get = await runCli(["channel", "get", child]);
    assert.equal(errorCode(get), "E_BAD_SIGNING_BLOCK");
    assert.match(get.stderr, /gamedock channel remove/);
    const bare = join(dir, "repaired.apk");
    const removed = await runCli(["channel", "remove", child, "-o", bare]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /unreadable channel removed/);
    assert.ok((await readFile(bare)).equals(await readFile(fixture("v1v2v3.apk"))));
  });
});
