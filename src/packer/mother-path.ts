/**
 * A mother named by path must resolve inside the packages root after every
 * symlink is followed; otherwise E_PATH_OUTSIDE_ROOT. The API never reads a
 * file the operator did not put under that root.
 */
import { mkdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { GamedockError, errnoCode, fsError } from "../core/index.js";

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

export async function resolveMother(packagesRoot: string, apk: string): Promise<string> {
  if (apk.includes("\0")) {
    throw new GamedockError("E_INVALID_REQUEST", "apk must not contain NUL characters", {
      field: "apk",
    });
  }
  await mkdir(packagesRoot, { recursive: true });
  const root = await realpath(packagesRoot);
  const candidate = resolve(root, apk);
  const outside = (): GamedockError =>
    new GamedockError(
      "E_PATH_OUTSIDE_ROOT",
      `apk ${JSON.stringify(apk)} resolves outside the packages root ${root}; put the mother under it and name it relative to it`,
      { field: "apk", root },
    );
  if (!inside(root, candidate)) throw outside();
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      throw new GamedockError(
        "E_NOT_FOUND",
        `apk ${JSON.stringify(apk)} does not exist under the packages root ${root}`,
        { field: "apk" },
      );
    }
    throw fsError(err, candidate, "mother APK");
  }
  if (!inside(root, real)) throw outside();
  const info = await stat(real);
  if (!info.isFile()) {
    throw new GamedockError("E_NOT_A_FILE", `apk ${JSON.stringify(apk)} is not a regular file`, {
      field: "apk",
    });
  }
  return real;
}
