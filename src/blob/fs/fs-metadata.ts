/**
 * Object metadata for the fs driver: a JSON file per key in the driver's
 * area, holding the metadata and the etag of the object it was written for.
 * The object is renamed into place first and its metadata second, so a
 * crash in between leaves an object without metadata, never metadata that
 * claims another object's bytes: `head` trusts the file only while the
 * object's etag (inode, size, mtime) is still the one it names.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { errnoCode, fsError } from "../../core/index.js";
import type { BlobKey } from "../contract.js";
import type { BlobMetadata } from "../metadata.js";
import { writeAtomically } from "./fs-atomic.js";
import type { FsLayout } from "./fs-layout.js";

interface MetadataFile {
  etag: string;
  metadata: BlobMetadata;
}

export async function writeMetadata(
  layout: FsLayout,
  key: BlobKey,
  etag: string,
  metadata: BlobMetadata,
): Promise<void> {
  const file: MetadataFile = { etag, metadata };
  await writeAtomically(layout.metadataPath(key), layout.tempDir, (temp) =>
    writeFile(temp, JSON.stringify(file), { flag: "wx", mode: 0o644 }),
  );
}

/** The metadata recorded for the object whose etag is `etag`; {} when none is. */
export async function readMetadata(
  layout: FsLayout,
  key: BlobKey,
  etag: string,
): Promise<BlobMetadata> {
  const path = layout.metadataPath(key);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return {};
    throw fsError(err, path, "object metadata");
  }
  try {
    const file = JSON.parse(text) as Partial<MetadataFile>;
    return file.etag === etag && typeof file.metadata === "object" && file.metadata !== null
      ? file.metadata
      : {};
  } catch {
    return {}; // unreadable: as if none was recorded
  }
}

export async function removeMetadata(layout: FsLayout, key: BlobKey): Promise<void> {
  await rm(layout.metadataPath(key), { force: true });
}
