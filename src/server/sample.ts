/**
 * A first `gamedock serve` creates the packages root and puts the bundled
 * signed sample there (demo.apk), so README's curl example packs something
 * at once. An existing root is never touched.
 */
import { copyFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { errnoCode, makeDirectory, directoryError } from "../core/index.js";

/** samples/ beside dist/ (installed package) or src/ (checkout): both are two levels up. */
const SAMPLE = fileURLToPath(new URL("../../samples/demo.apk", import.meta.url));

export async function seedPackagesRoot(root: string): Promise<string | null> {
  try {
    await stat(root);
    return null;
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
  await makeDirectory(root, directoryError("packages root (packer.packagesRoot)"));
  try {
    await copyFile(SAMPLE, join(root, "demo.apk"));
    return join(root, "demo.apk");
  } catch {
    return null; // a build without samples/: an empty root is fine
  }
}
