/**
 * Upload-Metadata → the file's name and content type. tus clients send
 * `filename` and `filetype` (Uppy also `name` and `type`); values are
 * base64-decoded UTF-8 by @tus/server, so Chinese names arrive intact.
 */
import { GamedockError } from "../../core/index.js";
import { validateFileName } from "../names.js";

export type TusMetadata = Record<string, string | null> | undefined;

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** type/subtype with optional parameters, printable ASCII only (it becomes a header). */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/;

function pick(metadata: TusMetadata, ...keys: string[]): string | null {
  for (const key of keys) {
    const value = metadata?.[key];
    if (typeof value === "string" && value !== "") return value;
  }
  return null;
}

export interface UploadDescription {
  name: string;
  contentType: string;
}

/** Throws E_FILE_NAME / E_INVALID_REQUEST (400) for a name or type that cannot be used. */
export function describeUpload(metadata: TusMetadata, id: string): UploadDescription {
  const filename = pick(metadata, "filename", "name");
  const filetype = pick(metadata, "filetype", "type");
  const name = filename === null ? id : validateFileName(filename);
  if (filetype !== null && (filetype.length > 255 || !MEDIA_TYPE.test(filetype))) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `Upload-Metadata filetype ${JSON.stringify(filetype)} is not a media type such as application/vnd.android.package-archive`,
      { filetype },
    );
  }
  return { name, contentType: filetype ?? DEFAULT_CONTENT_TYPE };
}
