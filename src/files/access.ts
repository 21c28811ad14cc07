/**
 * The file service as other modules' code sees it (realtime handlers: chat
 * checks that a file exists and hands out links): describe a file, sign a
 * download path. No bytes move through here.
 */
import { clockOf, type FilesContext, type FilesSettings } from "./context.js";
import { signedPath } from "./signed-url.js";
import { fileView, isExpired, type FileView } from "./views.js";

export interface FileLookup {
  /** The file's description; null when it does not exist or expired. */
  get(id: string): Promise<FileView | null>;
  /** A download path signed for ttlSeconds (default files.signedUrlTtlSeconds). */
  signedUrl(id: string, ttlSeconds?: number): string;
  /**
   * Who uploaded it, as the file service records it: "uid:<uid>" for a
   * user's realtime token, a token's digest prefix, or "" without tokens;
   * null when the file does not exist or expired.
   */
  ownerOf(id: string): Promise<string | null>;
}

/** What a lookup needs of the file service: less than a whole FilesContext (no store, no tokens). */
export type FileLookupContext = Pick<FilesContext, "metadata" | "signingKey" | "clock"> & {
  settings: Pick<FilesSettings, "signedUrlTtlSeconds">;
};

export function fileLookup(ctx: FileLookupContext): FileLookup {
  const clock = clockOf(ctx);
  return {
    async get(id) {
      const file = await ctx.metadata.getFile(id);
      return file && !isExpired(file, clock.now()) ? fileView(file) : null;
    },
    async ownerOf(id) {
      const file = await ctx.metadata.getFile(id);
      return file && !isExpired(file, clock.now()) ? file.owner : null;
    },
    signedUrl(id, ttlSeconds = ctx.settings.signedUrlTtlSeconds) {
      const expires = Math.floor(clock.now() / 1000) + ttlSeconds;
      return signedPath(ctx.signingKey, id, expires);
    },
  };
}
