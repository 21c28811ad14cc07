/**
 * This process's file transfers since it started — finished uploads (PUT and
 * tus) and downloads answered in full or in part — for the dashboard's
 * upload and download charts (GET /api/v1/summary). Plain counters: a
 * process that restarts starts again from zero, which a rate drawn from two
 * samples shows as one dip.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export interface FileTraffic {
  uploads: number;
  uploadedBytes: number;
  downloads: number;
  downloadedBytes: number;
}

const traffic: FileTraffic = { uploads: 0, uploadedBytes: 0, downloads: 0, downloadedBytes: 0 };

export const fileTraffic = (): FileTraffic => ({ ...traffic });

export function countUpload(bytes: number): void {
  traffic.uploads += 1;
  traffic.uploadedBytes += bytes;
}

/** Counts the download once its response has been handed over whole (not a HEAD, not a 304). */
export function countDownload(request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== "GET") return;
  response.once("finish", () => {
    if (response.statusCode !== 200 && response.statusCode !== 206) return;
    traffic.downloads += 1;
    traffic.downloadedBytes += Number(response.getHeader("content-length") ?? 0) || 0;
  });
}
