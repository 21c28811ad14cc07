/**
 * HTTP for stored objects: sendBlob answers a download (Range, If-Range,
 * ETag, If-None-Match, HEAD, Content-Disposition) on the raw Node request and
 * response; the parts are exported for routes that need one of them alone.
 */
export { sendBlob, type BlobRepresentation, type SendBlobOptions } from "./send-blob.js";
export { asciiFallback, contentDisposition } from "./disposition.js";
export { noneMatch, parseRange, rangeStillValid, type RangeRequest } from "./ranges.js";
