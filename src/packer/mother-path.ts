/**
 * A mother named by path must resolve inside the packages root after every
 * symlink is followed; otherwise E_PATH_OUTSIDE_ROOT. The API never reads a
 * file the operator did not put under that root, and its answers name the
 * mother as the request did (`apk`), never the server's absolute paths.
 */
import { realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import {
  GamedockError,
  fsError,
  isGamedockError,
  makeDirectory,
  directoryError,
} from "../core/index.js";

/** Whether `path` lies below `root` (both absolute, symlinks already followed). */
export function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

export async function resolveMother(packagesRoot: string, apk: string): Promise<string> {
  if (apk.includes("\0")) {
    throw new GamedockError("E_INVALID_REQUEST", "apk must not contain NUL characters", {
      field: "apk",
    });
  }
  await makeDirectory(packagesRoot, directoryError("packages root (packer.packagesRoot)"));
  const root = await realpath(packagesRoot);
  const candidate = resolve(root, apk);
  const label = `apk ${JSON.stringify(apk)}`;
  const outside = (): GamedockError =>
    new GamedockError(
      "E_PATH_OUTSIDE_ROOT",
      `${label} resolves outside the packages root; put the mother under it and name it relative to it`,
      { field: "apk" },
    );
  if (!inside(root, candidate)) throw outside();
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (err) {
    // ENOENT, ENOTDIR (demo.apk/x), ELOOP (a symlink loop), ENAMETOOLONG: 4xx codes
    // whose message names the request's apk, not the server's path.
    throw fsError(err, JSON.stringify(apk), "mother APK");
  }
  if (!inside(root, real)) throw outside();
  const info = await stat(real).catch((err: unknown) => {
    throw fsError(err, JSON.stringify(apk), "mother APK");
  });
  if (!info.isFile()) {
    throw new GamedockError("E_NOT_A_FILE", `${label} is not a regular file`, { field: "apk" });
  }
  return real;
}

/**
 * An error about a mother as a client may see it: absolute paths under the
 * packages root (or of a cached file) replaced by the mother's label, path
 * details dropped. Errors that are not GamedockErrors pass through (the HTTP
 * layer answers them as internal, with a request id).
 */
export function userFacing(err: unknown, packagesRoot: string, label: string): unknown {
  if (!isGamedockError(err)) return err;
  const path = typeof err.details?.path === "string" ? err.details.path : null;
  let message = err.message;
  if (path) message = message.split(path).join(label);
  message = message.split(resolve(packagesRoot)).join("<packages root>");
  const details = Object.fromEntries(
    Object.entries(err.details ?? {}).filter(([key]) => key !== "path" && key !== "root"),
  );
  return new GamedockError(err.code, message, details);
}
