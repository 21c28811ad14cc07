/**
 * The output directory of `pack`: created if missing (level by level, core's
 * makeDirectory: `pack -o /proc/nope` fails at once instead of spinning in
 * Node's recursive mkdir), and proved writable before a byte of any child is
 * written. Every refusal is one E_OUTPUT_DIR naming the directory.
 */
import { randomBytes } from "node:crypto";
import { open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { GamedockError, errnoCode, makeDirectory } from "../core/index.js";

function cannotCreate(dir: string, why: string): GamedockError {
  return new GamedockError(
    "E_OUTPUT_DIR",
    `output directory ${dir} cannot be created (${why}); choose another with -o`,
    { path: dir },
  );
}

const notADirectory = (dir: string): GamedockError =>
  new GamedockError("E_OUTPUT_DIR", `output path ${dir} is not a directory`, { path: dir });

export async function ensureWritableDir(dir: string): Promise<void> {
  await makeDirectory(dir, cannotCreate);
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw notADirectory(dir);
  // access(W_OK) says yes to root on a read-only mount; creating a file tells the truth.
  const probe = join(dir, `.gamedock-probe-${randomBytes(6).toString("hex")}`);
  try {
    await (await open(probe, "wx")).close();
  } catch (err) {
    throw new GamedockError(
      "E_OUTPUT_DIR",
      `output directory ${dir} is not writable (${errnoCode(err) ?? String(err)}); fix its permissions or choose another with -o`,
      { path: dir },
    );
  } finally {
    await rm(probe, { force: true });
  }
}
