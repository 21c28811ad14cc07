/** File-system errors of the fs driver's writes, in terms of the key the caller chose. */
import { errnoCode, fsError } from "../../core/index.js";
import type { BlobKey } from "../contract.js";
import { keyConflict } from "./fs-layout.js";

export const NOT_THERE = ["ENOENT", "ENOTDIR"];

export function writeError(err: unknown, key: BlobKey, target: string): unknown {
  switch (errnoCode(err)) {
    case "ENOTDIR":
    case "EEXIST":
      return keyConflict(
        key,
        "cannot be stored: a leading part of it is already an object, and the fs driver keeps objects as files (one key cannot be another key's directory)",
      );
    case "EISDIR":
    case "ENOTEMPTY":
      return keyConflict(
        key,
        "cannot be stored: other objects are stored under it as a directory (fs driver)",
      );
    case "ENAMETOOLONG":
      return keyConflict(
        key,
        "has a segment longer than the file system allows (usually 255 bytes)",
      );
    default:
      return fsError(err, target, "blob target file");
  }
}
