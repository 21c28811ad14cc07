// Resumable uploads to the file service with tus-js-client (window.tus, a
// classic script: see index.html). The token goes in a header; tus-js-client
// remembers each upload's URL in local storage under the file's fingerprint
// (name, type, size, modification time), so choosing the same file again
// after a page reload continues where the upload stopped.
import { authHeaders } from "/web/api.js";

const CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * Uploads `file` and resolves with the stored file's id; `onProgress(sent,
 * total, resumed)` as bytes go. `signal` aborts (the upload stays resumable).
 */
export function uploadFile(file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    let resumed = false;
    const upload = new window.tus.Upload(file, {
      endpoint: "/files/",
      chunkSize: CHUNK_BYTES,
      retryDelays: [0, 1000, 3000, 5000],
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
      headers: authHeaders(),
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => onProgress?.(sent, total, resumed),
      onError: (err) => reject(tusError(err)),
      onSuccess: () => {
        const id = decodeURIComponent(new URL(upload.url, location.href).pathname.split("/").pop());
        resolve(id);
      },
    });
    signal?.addEventListener("abort", () => {
      void upload.abort();
      reject(new Error("aborted"));
    });
    upload.findPreviousUploads().then((previous) => {
      if (previous.length > 0) {
        resumed = true;
        upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    }, reject);
  });
}

/** tus-js-client's errors carry the response: show the server's code and message. */
function tusError(err) {
  const body = err.originalResponse?.getBody?.();
  try {
    const parsed = JSON.parse(body ?? "").error;
    if (parsed?.code) return Object.assign(new Error(parsed.message), { code: parsed.code });
  } catch {
    // Not JSON: the library's own message says what failed.
  }
  return err;
}
