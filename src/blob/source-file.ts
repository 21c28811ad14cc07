/** The local file a putFile uploads: checked up front, then read a part at a time. */
import { stat, type FileHandle } from "node:fs/promises";
import { GamedockError, fsError } from "../core/index.js";

/** Size of `file`; E_NOT_FOUND / E_NOT_A_FILE / E_NO_PERMISSION naming it otherwise. */
export async function sourceFileSize(file: string): Promise<number> {
  const stats = await stat(file).catch((err: unknown) => {
    throw fsError(err, file, "source file");
  });
  if (!stats.isFile()) {
    throw new GamedockError("E_NOT_A_FILE", `source is not a regular file: ${file}`, {
      path: file,
    });
  }
  return stats.size;
}

/** Fills `buffer[0, length)` from `position`; a file that shrank meanwhile is an error, not a short part. */
export async function readExactly(
  handle: FileHandle,
  file: string,
  buffer: Buffer,
  position: number,
  length: number,
): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) {
      throw new GamedockError(
        "E_UPLOAD_FAILED",
        `source file changed during the upload (shorter than ${position + length} bytes): ${file}`,
        { path: file },
        { retryable: false },
      );
    }
    filled += bytesRead;
  }
  return buffer.subarray(0, length);
}
