/**
 * Public surface of the file service (design note 004): streaming PUT and
 * Range downloads under /files, signed download URLs, expiry sweeping, and the
 * seams where the tus handler and the channel stream plug in.
 */
export type {
  BlobRecord,
  FileListQuery,
  FileMetadata,
  FileRecord,
  ReserveOutcome,
  ReserveRequest,
  UploadRecord,
} from "./contract.js";
export type { FileMounts, FilesContext, FilesSettings, TusCaller, TusMount } from "./context.js";
export { fileLookup, type FileLookup, type FileLookupContext } from "./access.js";
export { LOCAL_OWNER, tokenOwner } from "./auth.js";
export { newFileId, validateFileId } from "./ids.js";
export { localCopyOf } from "./local-copy.js";
export { validateFileName } from "./names.js";
export { Quota, QuotaHold, checkUploadSize, type Limits } from "./quota.js";
export { registerFile, type CompletedUpload } from "./register.js";
export { SqlFileMetadata } from "./metadata.js";
export { registerFileRoutes } from "./routes.js";
export { registerFileApiRoutes } from "./api-routes.js";
export { signatureQuery, signedPath, verifySignature, verifySignedUrl } from "./signed-url.js";
export { openTusMount } from "./tus-mount.js";
export {
  startSweeper,
  sweepOnce,
  type SweepHooks,
  type SweepResult,
  type Sweeper,
} from "./sweeper.js";
export { fileView, type FileView } from "./views.js";
export { fileTraffic, type FileTraffic } from "./traffic.js";
