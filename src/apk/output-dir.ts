/**
 * The output directory of `pack`: created if missing, and proved writable
 * before a byte of any child is written.
 *
 * Created one level at a time, never with mkdir's `recursive`: Node's
 * recursive mkdir retries a level that answers ENOENT after its parent
 * exists, which is what /proc answers for every new name — so
 * `pack -o /proc/nope` spun forever. Level by level, every refusal (ENOENT
 * under /proc, EPERM under /sys, EROFS, EACCES, a file in the way) ends in
 * one E_OUTPUT_DIR naming the directory.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GamedockError, errnoCode } from "../core/index.js";

function cannotCreate(dir: string, why: string): GamedockError {
  return new GamedockError(
    "E_OUTPUT_DIR",
    `output directory ${dir} cannot be created (${why}); choose another with -o`,
    { path: dir },
  );
}

const notADirectory = (dir: string): GamedockError =>
  new GamedockError("E_OUTPUT_DIR", `output path ${dir} is not a directory`, { path: dir });

/** The missing levels of `dir`, outermost first; [] when it exists. Throws if a file is in the way. */
async function missingLevels(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    try {
      const info = await stat(at);
      if (info.isDirectory()) return missing.reverse();
      if (at === dir) throw notADirectory(dir);
      throw cannotCreate(dir, `${at} is a file, not a directory`);
    } catch (err) {
      if (err instanceof GamedockError) throw err;
      const code = errnoCode(err);
      // ENOTDIR: a file somewhere above; going up finds it and names it.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw cannotCreate(dir, code ?? String(err));
      if (dirname(at) === at) throw cannotCreate(dir, "no part of the path exists");
      missing.push(at);
    }
  }
}

async function createLevels(dir: string): Promise<void> {
  for (const level of await missingLevels(dir)) {
    try {
      await mkdir(level);
    } catch (err) {
      const code = errnoCode(err);
      // Another process may create the same level at the same moment.
      if (code === "EEXIST" && (await stat(level).catch(() => null))?.isDirectory()) continue;
      throw cannotCreate(
        dir,
        level === dir ? (code ?? String(err)) : `${level}: ${code ?? String(err)}`,
      );
    }
  }
}

export async function ensureWritableDir(dir: string): Promise<void> {
  await createLevels(dir);
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
