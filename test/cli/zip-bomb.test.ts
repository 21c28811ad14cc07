/**
 * Zip bombs in the entries gamedock reads into memory: a manifest or
 * resources.arsc that declares more than its cap is refused before anything
 * is inflated, and one that inflates past the size it declares is cut off
 * there. Before the caps, a 200 KB APK made the server inflate (and hold)
 * up to 256 MB per request, synchronously.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { crc32, createDeflateRaw, deflateRawSync } from "node:zlib";
import { errorCode, fixture, listFiles, runCli, useTempDir } from "../helpers/cli.js";

const MiB = 1024 * 1024;

interface Entry {
  name: string;
  /** Raw entry data as stored (deflated or not). */
  stored: Buffer;
  deflated: boolean;
  crc: number;
  /** The uncompressed size the headers declare. */
  declared: number;
}

/** `size` zero bytes, deflated a MiB at a time so the test never holds them all. */
async function zeros(size: number): Promise<{ stored: Buffer; crc: number }> {
  const deflate = createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on("data", (part: Buffer) => parts.push(part));
  const done = new Promise((resolve) => deflate.on("end", resolve));
  const chunk = Buffer.alloc(MiB);
  let crc = 0;
  for (let left = size; left > 0; left -= MiB) {
    const piece = left >= MiB ? chunk : chunk.subarray(0, left);
    crc = crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  deflate.end();
  await done;
  return { stored: Buffer.concat(parts), crc };
}

/** A plain zip (no signing block) of `entries`. */
function zip(entries: Entry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflated ? 8 : 0, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.stored.length, 18);
    local.writeUInt32LE(e.declared, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflated ? 8 : 0, 10);
    central.writeUInt32LE(e.crc >>> 0, 16);
    central.writeUInt32LE(e.stored.length, 20);
    central.writeUInt32LE(e.declared, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.stored);
    centrals.push(central, name);
    offset += local.length + name.length + e.stored.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** The sample's real manifest: its label is a reference, so resources.arsc is read. */
function realManifest(): Entry {
  const bytes = execFileSync("unzip", ["-p", fixture("v1v2v3.apk"), "AndroidManifest.xml"]);
  return {
    name: "AndroidManifest.xml",
    stored: bytes,
    deflated: false,
    crc: crc32(bytes),
    declared: bytes.length,
  };
}

describe("zip bombs in the manifest and resources.arsc", () => {
  let dir = "";
  useTempDir((d) => (dir = d));

  async function refused(apk: Buffer, file: string, message: RegExp): Promise<void> {
    const path = join(dir, file);
    await writeFile(path, apk);
    const info = await runCli(["apk", "info", path, "--json"]);
    assert.equal(info.code, 3, info.stderr);
    const { error } = JSON.parse(info.stderr) as { error: { code: string; message: string } };
    assert.equal(error.code, "E_ZIP_ENTRY");
    assert.match(error.message, message);
    const out = join(dir, `${file}-out`);
    const pack = await runCli(["pack", path, "-c", "a", "-o", out, "--allow-unsigned"]);
    assert.equal(errorCode(pack), "E_ZIP_ENTRY", pack.stderr);
    assert.deepEqual(await listFiles(out), []);
  }

  it("a manifest that declares more than 16 MiB is refused without being inflated", async () => {
    const { stored, crc } = await zeros(17 * MiB);
    const entry = { name: "AndroidManifest.xml", stored, deflated: true, crc, declared: 17 * MiB };
    assert.ok(stored.length < 64 * 1024, "a small file");
    await refused(
      zip([entry]),
      "manifest-bomb.apk",
      /AndroidManifest\.xml declares 17825792 bytes, over the 16 MiB/,
    );
  });

  it("a manifest that inflates past the size it declares is cut off there", async () => {
    const { stored, crc } = await zeros(64 * MiB);
    const entry = { name: "AndroidManifest.xml", stored, deflated: true, crc, declared: 4096 };
    await refused(
      zip([entry]),
      "lying-bomb.apk",
      /AndroidManifest\.xml inflates to more than the 4096 bytes it declares/,
    );
  });

  it("resources.arsc over 128 MiB is refused when the label sends us there", async () => {
    const { stored, crc } = await zeros(129 * MiB);
    const arsc = { name: "resources.arsc", stored, deflated: true, crc, declared: 129 * MiB };
    await refused(
      zip([realManifest(), arsc]),
      "arsc-bomb.apk",
      /resources\.arsc declares \d+ bytes, over the 128 MiB/,
    );
  });

  it("a deflated manifest within its cap is still read", async () => {
    const manifest = realManifest();
    const stored = deflateRawSync(manifest.stored);
    const arsc = execFileSync("unzip", ["-p", fixture("v1v2v3.apk"), "resources.arsc"]);
    const apk = zip([
      { ...manifest, stored, deflated: true },
      {
        name: "resources.arsc",
        stored: arsc,
        deflated: false,
        crc: crc32(arsc),
        declared: arsc.length,
      },
    ]);
    const path = join(dir, "deflated.apk");
    await writeFile(path, apk);
    const info = await runCli(["apk", "info", path, "--json"]);
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { package: string }).package, "com.gamedock.sample");
  });
});
