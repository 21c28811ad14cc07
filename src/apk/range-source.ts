/**
 * Where the APK engine reads bytes from. Parsing an APK needs random access to
 * a few small regions (EOCD, central directory, signing block, manifest), so
 * the engine asks for exactly that and nothing tied to the local disk: a
 * FileHandle satisfies `ByteReader` as is, and an object in a BlobStore can be
 * read through ranged GETs (src/files/channel-stream.ts).
 */
import type { FileHandle } from "node:fs/promises";

/** Positional reads, with FileHandle.read's contract: fewer bytes than asked only at the end. */
export interface ByteReader {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
}

/** A ByteReader that knows its size and owns something to release. */
export interface RandomAccessSource extends ByteReader {
  readonly size: number;
  close(): Promise<void>;
}

/** A local file already opened, as a source; closing the source closes the handle. */
export function fileSource(handle: FileHandle, size: number): RandomAccessSource {
  return {
    size,
    read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
    close: () => handle.close(),
  };
}
