/**
 * For the tus tests: the tus handler behind a small node:http server (routing
 * /files the way the file routes do, owner "local", plus a plain GET of a
 * finished file from metadata + target), and a tus 1.0 client written with
 * fetch — no tus client library, so the tests see the protocol itself.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { openBlobStore, type BlobStore, type BlobTargetConfig } from "../../src/blob/index.js";
import type { Clock, Logger } from "../../src/core/index.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { SqlFileMetadata } from "../../src/files/metadata.js";
import {
  createTusHandler,
  type TusHandler,
  type TusHandlerOptions,
} from "../../src/files/tus/index.js";

const run = promisify(execFile);

export const TUS = { "Tus-Resumable": "1.0.0" };
export const OFFSET_STREAM = "application/offset+octet-stream";
export const MiB = 1024 * 1024;

export interface TusServerOptions {
  /** The files target; default an fs target in a new temp directory. */
  target?: BlobTargetConfig;
  /** SQLite file shared with other servers; default a new one. */
  dbPath?: string;
  maxUploadBytes?: number;
  quotaBytes?: number;
  uploadTtlSeconds?: number;
  fileTtlSeconds?: number;
  lockRedisUrl?: string;
  lockPrefix?: string;
  lockDrainTimeoutMs?: number;
  /** The handler's clock (expiry, quota leases): tests move it instead of sleeping. */
  clock?: Clock;
}

export interface TusServer {
  url: string;
  target: BlobTargetConfig;
  blobs: BlobStore;
  metadata: SqlFileMetadata;
  handler: TusHandler;
  /** What the handler logged with this `event` field (info and above), oldest first. */
  logged(event: string): Record<string, unknown>[];
  close(): Promise<void>;
}

/** A logger that keeps its lines (info and above) for the test to read. */
async function recordingLogger(): Promise<{ logger: Logger; lines: Record<string, unknown>[] }> {
  const { pino } = await import("pino");
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (process.env.TUS_TEST_LOG === "1") process.stderr.write(chunk);
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const level = process.env.TUS_TEST_LOG === "1" ? "debug" : "info";
  return { logger: pino({ level }, sink), lines };
}

export async function startTusServer(
  dir: string,
  options: TusServerOptions = {},
): Promise<TusServer> {
  const { logger, lines } = await recordingLogger();
  const target = options.target ?? { driver: "fs", root: join(dir, "blobs") };
  const database: Database = await openDatabase({
    driver: "sqlite",
    path: options.dbPath ?? join(dir, "files.db"),
  });
  const metadata = new SqlFileMetadata(database);
  const blobs = await openBlobStore(target);
  const handlerOptions: TusHandlerOptions = {
    store: blobs,
    metadata,
    limits: {
      maxUploadBytes: options.maxUploadBytes ?? 1024 * MiB,
      quotaBytes: options.quotaBytes ?? 0,
    },
    uploadTtlSeconds: options.uploadTtlSeconds ?? 3600,
    fileTtlSeconds: options.fileTtlSeconds ?? 0,
    lockRedisUrl: options.lockRedisUrl ?? "",
    logger,
    spoolDir: join(dir, "spool"),
    ...(options.lockPrefix ? { lockPrefix: options.lockPrefix } : {}),
    ...(options.lockDrainTimeoutMs ? { lockDrainTimeoutMs: options.lockDrainTimeoutMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
  const handler = await createTusHandler(handlerOptions);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== "/files" && !path.startsWith("/files/")) {
      res.writeHead(404).end();
      return;
    }
    const work =
      req.method === "GET"
        ? serveFile(metadata, blobs, path.slice("/files/".length), res)
        : handler.handle(req, res, { owner: "local", ownerOnly: false });
    work.catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    target,
    blobs,
    metadata,
    handler,
    logged: (event) => lines.filter((line) => line.event === event),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await handler.close();
      await blobs.close();
      await database.close();
    },
  };
}

/** What the file routes do for GET /files/:id, reduced to the bytes. */
async function serveFile(
  metadata: SqlFileMetadata,
  blobs: BlobStore,
  id: string,
  res: import("node:http").ServerResponse,
): Promise<void> {
  const file = await metadata.getFile(id);
  if (!file) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": file.contentType, "content-length": file.size });
  await pipeline(await blobs.get(file.blobKey), res);
}

export function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => `${key} ${Buffer.from(value, "utf8").toString("base64")}`)
    .join(",");
}

type Body = Buffer | Readable;

function bodyInit(body: Body): { body: Uint8Array | ReadableStream<Uint8Array>; duplex?: "half" } {
  if (Buffer.isBuffer(body)) return { body: new Uint8Array(body) };
  return { body: Readable.toWeb(body) as ReadableStream<Uint8Array>, duplex: "half" };
}

/** A tus 1.0 client over fetch. Upload URLs come back relative (`/files/<id>`). */
export class TusClient {
  constructor(readonly base: string) {}

  url(location: string): string {
    return new URL(location, this.base).toString();
  }

  options(): Promise<Response> {
    return fetch(`${this.base}/files`, { method: "OPTIONS" });
  }

  create(
    init: {
      length?: number;
      defer?: boolean;
      metadata?: Record<string, string>;
      body?: Body;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...TUS, ...init.headers };
    if (init.length !== undefined) headers["Upload-Length"] = String(init.length);
    if (init.defer) headers["Upload-Defer-Length"] = "1";
    if (init.metadata) headers["Upload-Metadata"] = encodeMetadata(init.metadata);
    if (init.body) headers["Content-Type"] = OFFSET_STREAM;
    return fetch(`${this.base}/files/`, {
      method: "POST",
      headers,
      ...(init.body ? bodyInit(init.body) : {}),
    });
  }

  /** Creates an upload and returns its absolute URL (throws unless 201). */
  async start(
    length: number,
    metadata: Record<string, string> = { filename: "a.bin" },
  ): Promise<string> {
    const response = await this.create({ length, metadata });
    if (response.status !== 201)
      throw new Error(`create: ${response.status} ${await response.text()}`);
    return this.url(response.headers.get("location") ?? "");
  }

  patch(
    url: string,
    offset: number,
    body: Body,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return fetch(url, {
      method: "PATCH",
      headers: {
        ...TUS,
        "Content-Type": OFFSET_STREAM,
        "Upload-Offset": String(offset),
        ...headers,
      },
      ...bodyInit(body),
    });
  }

  head(url: string): Promise<Response> {
    return fetch(url, { method: "HEAD", headers: TUS });
  }

  async offset(url: string): Promise<number> {
    const response = await this.head(url);
    if (response.status !== 200) throw new Error(`HEAD ${url}: ${response.status}`);
    return Number(response.headers.get("upload-offset"));
  }

  delete(url: string): Promise<Response> {
    return fetch(url, { method: "DELETE", headers: TUS });
  }

  /** PATCHes `file` from `offset` to its end in chunks of `chunkSize`; returns the final offset. */
  async sendFile(
    url: string,
    file: string,
    size: number,
    offset: number,
    chunkSize: number,
  ): Promise<number> {
    while (offset < size) {
      const end = Math.min(size, offset + chunkSize);
      const response = await this.patch(
        url,
        offset,
        createReadStream(file, { start: offset, end: end - 1 }),
        {
          "Content-Length": String(end - offset),
        },
      );
      if (response.status !== 204)
        throw new Error(`PATCH at ${offset}: ${response.status} ${await response.text()}`);
      offset = Number(response.headers.get("upload-offset"));
    }
    return offset;
  }

  /**
   * Starts a PATCH with node:http, sends `sendBytes` of `body` and then cuts
   * the connection (a client that went away mid-chunk). Resolves once cut.
   */
  async abortedPatch(url: string, offset: number, body: Buffer, sendBytes: number): Promise<void> {
    const req = request(url, {
      method: "PATCH",
      headers: {
        ...TUS,
        "Content-Type": OFFSET_STREAM,
        "Upload-Offset": String(offset),
        "Content-Length": String(body.length),
      },
    });
    req.on("error", () => undefined); // the cut is the point
    await new Promise<void>((resolve) => {
      req.write(body.subarray(0, sendBytes), () => {
        resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the server take the bytes
    req.destroy();
  }

  /**
   * Starts a PATCH that sends `sendBytes` and then stalls without closing (a
   * half-open connection). Returns the response promise and a way to cut it.
   */
  stalledPatch(
    url: string,
    offset: number,
    body: Buffer,
    sendBytes: number,
  ): { response: Promise<number>; cut(): void } {
    const req = request(url, {
      method: "PATCH",
      headers: {
        ...TUS,
        "Content-Type": OFFSET_STREAM,
        "Upload-Offset": String(offset),
        "Content-Length": String(body.length),
      },
    });
    const response = new Promise<number>((resolve) => {
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => {
        resolve(-1);
      });
    });
    req.write(body.subarray(0, sendBytes));
    return {
      response,
      cut: () => {
        req.destroy();
      },
    };
  }
}

/** Writes `size` random bytes to `path` in 1 MiB pieces. */
export async function randomFile(path: string, size: number): Promise<void> {
  function* pieces(): Generator<Buffer> {
    for (let left = size; left > 0; left -= MiB) yield randomBytes(Math.min(MiB, left));
  }
  await pipeline(Readable.from(pieces()), createWriteStream(path));
}

/** sha256sum and md5sum of a file, as the coreutils print them. */
export async function coreutilsDigests(path: string): Promise<{ sha256: string; md5: string }> {
  const [sha, md5] = await Promise.all([run("sha256sum", [path]), run("md5sum", [path])]);
  return { sha256: sha.stdout.split(" ")[0] ?? "", md5: md5.stdout.split(" ")[0] ?? "" };
}

export function digestsOf(bytes: Buffer): { sha256: string; md5: string } {
  return {
    sha256: createHash("sha256").update(bytes).digest("hex"),
    md5: createHash("md5").update(bytes).digest("hex"),
  };
}

export function checksumHeader(algorithm: "sha1" | "md5" | "sha256", bytes: Buffer): string {
  return `${algorithm} ${createHash(algorithm).update(bytes).digest("base64")}`;
}

export function idOf(url: string): string {
  return new URL(url).pathname.split("/").pop() ?? "";
}
