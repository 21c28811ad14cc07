/**
 * Files as the file service would describe them, from a map of id → owner:
 * the SQL layer's view of /files, for chat tests that need no real uploads.
 */
import type { FileLookup } from "../../src/files/index.js";

export function filesOf(owners: Record<string, string>): FileLookup {
  return {
    get: (id) =>
      Promise.resolve(
        id in owners
          ? {
              id,
              name: `${id}.png`,
              size: 1234,
              sha256: "ab".repeat(32),
              md5: "cd".repeat(16),
              contentType: "image/png",
              url: `/files/${id}`,
              createdAt: "2026-12-01T00:00:00.000Z",
              expiresAt: null,
            }
          : null,
      ),
    ownerOf: (id) => Promise.resolve(owners[id] ?? null),
    signedUrl: (id, ttl) => `/files/${id}?expires=${ttl}&sig=x`,
  };
}
