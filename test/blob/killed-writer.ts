/**
 * A process that is killed while it writes a large object through the fs
 * driver (run by fs.test.ts): `node --import tsx killed-writer.ts <root> <key>`.
 * It streams 4 MiB into putStream from a source that then stalls, and prints
 * `writing <temp file name>` once its temp file holds 3 MiB — the moment to
 * SIGKILL it. It never finishes on its own.
 */
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { HOST_DIR } from "../../src/blob/fs/fs-layout.js";
import { openBlobStore } from "../../src/blob/index.js";

const MiB = 1024 * 1024;
const [root, key] = process.argv.slice(2);
if (root === undefined || key === undefined)
  throw new Error("usage: killed-writer.ts <root> <key>");

// A stalled stream keeps nothing pending: this timer keeps the process alive until it is killed.
setInterval(() => undefined, 60_000);
const store = await openBlobStore({ driver: "fs", root });
let sent = 0;
const slowSource = new Readable({
  read() {
    if (sent < 4 * MiB) {
      sent += MiB;
      this.push(randomBytes(MiB));
    } // then nothing more: the upload stays in progress
  },
});

const tempDir = join(root, ".gamedock", "tmp", HOST_DIR);
const mine = `.gamedock-${process.pid}-`;
const watch = setInterval(() => {
  void (async () => {
    for (const name of await readdir(tempDir)) {
      if (!name.startsWith(mine)) continue;
      if ((await stat(join(tempDir, name))).size >= 3 * MiB) {
        clearInterval(watch);
        process.stdout.write(`writing ${name}\n`);
      }
    }
  })();
}, 20);

await store.putStream(key, slowSource);
throw new Error("the stalled upload finished");
