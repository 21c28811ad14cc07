/**
 * Runs the file service inside the test process on a free port with its data
 * in a temp directory, configured through the same file + schema path a user
 * takes: `gamedock files` (startFiles) by default, or `gamedock serve`.
 * Requests go over real HTTP: fetch for ordinary ones, rawRequest for what
 * fetch would not send (unnormalized paths, a Content-Length it does not keep).
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { readdir, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { Lifecycle, createLogger, type Clock, type Config } from "../../src/core/index.js";
import { openBlobStore } from "../../src/blob/index.js";
import { openDatabase } from "../../src/db/index.js";
import {
  SqlFileMetadata,
  registerFileRoutes,
  type FileMounts,
  type FilesContext,
} from "../../src/files/index.js";
import { startFiles, startServe } from "../../src/server/index.js";
import { createHttpServer } from "../../src/server/http.js";
import { tempDir } from "./cli.js";
import { testConfig } from "./serve.js";

export interface FilesTestServer {
  url: string;
  data: string;
  config: Config;
  /** Stops the server; `keepData` leaves the directory for a restart. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export interface StartOptions {
  via?: "files" | "serve";
  /** Reuse this data directory (a restart). */
  data?: string;
  /** The clock of the file service (`files` only): tests move it instead of sleeping. */
  clock?: Clock;
}

export async function startFilesServer(
  config: Record<string, unknown> = {},
  options: StartOptions = {},
): Promise<FilesTestServer> {
  const data = options.data ?? (await tempDir("gamedock-files-"));
  const { effective, logger } = await testConfig(data, config);
  const lifecycle = new Lifecycle();
  const server =
    options.via === "serve"
      ? await startServe(effective, logger, lifecycle)
      : await startFiles(
          effective,
          logger,
          lifecycle,
          options.clock ? { clock: options.clock } : {},
        );
  return {
    url: server.url,
    data,
    config: effective,
    async close(closeOptions = {}) {
      await lifecycle.shutdown();
      if (!closeOptions.keepData) await rm(data, { recursive: true, force: true });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json: unknown;
}

/**
 * One request on its own connection, with the path sent byte for byte. `body`
 * is written as given; with `endBody: false` the request is left open after it
 * (a client still sending), and the answer is whatever the server says first.
 */
export function rawRequest(
  base: string,
  options: {
    method: string;
    path: string;
    headers?: Record<string, string | number>;
    body?: Buffer | string;
    endBody?: boolean;
  },
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: hostname,
      port,
      method: options.method,
      path: options.path,
      headers: options.headers,
      agent: false,
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        let json: unknown = null;
        try {
          json = JSON.parse(body.toString("utf8"));
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        req.destroy();
      });
    });
    // The server may close while we still send: the answer, if any, has come first.
    req.on("error", (err) => {
      reject(err);
    });
    if (options.body !== undefined) req.write(options.body);
    if (options.endBody !== false) req.end();
  });
}

/** Every file under the files target's root (fs driver), temp files included, relative paths. */
export async function storedObjects(data: string): Promise<string[]> {
  const root = join(data, "blobs");
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export interface FileBody {
  id: string;
  name: string;
  size: number;
  sha256: string;
  md5: string;
  contentType: string;
  url: string;
  createdAt: string;
  expiresAt: string | null;
}

/** PUT /files/<name> with fetch; returns status and parsed JSON. */
export async function putFile(
  base: string,
  name: string,
  body: Buffer | string,
  init: { query?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const response = await fetch(`${base}/files/${encodeURIComponent(name)}${init.query ?? ""}`, {
    method: "PUT",
    headers: init.headers,
    body,
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

export interface FilesApp {
  url: string;
  ctx: FilesContext;
  close(): Promise<void>;
}

/**
 * The /files routes on a bare HTTP server with a hand-built context, for
 * tests of what plugs into them (a stand-in tus handler).
 */
export async function startFilesApp(
  mounts: FileMounts,
  options: { tokens?: string[] } = {},
): Promise<FilesApp> {
  const data = await tempDir("gamedock-files-app-");
  const logger = await createLogger({ level: "silent" });
  const database = await openDatabase({ driver: "sqlite", path: join(data, "gamedock.db") });
  const ctx: FilesContext = {
    metadata: new SqlFileMetadata(database),
    store: await openBlobStore({ driver: "fs", root: join(data, "blobs") }),
    settings: {
      maxUploadBytes: 1024 ** 3,
      quotaBytes: 0,
      fileTtlSeconds: 0,
      uploadTtlSeconds: 3600,
      signedUrlTtlSeconds: 3600,
      sweepIntervalMs: 60_000,
      lockRedisUrl: "",
      lockPrefix: "gamedock:tus",
    },
    signingKey: Buffer.alloc(32, 7),
    tokens: options.tokens ?? [],
    logger,
  };
  const app = createHttpServer({ logger, tokens: ctx.tokens, bodyLimit: 1024 * 1024 });
  registerFileRoutes(app, ctx, mounts);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    ctx,
    async close() {
      await app.close();
      await database.close();
      await rm(data, { recursive: true, force: true });
    },
  };
}
