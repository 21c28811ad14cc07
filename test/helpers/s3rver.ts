/**
 * s3rver (a fake S3 in Node) in-process on 127.0.0.1, a free port, a temp
 * directory and one bucket, silent — the S3 peer of the blob conformance suite.
 *
 * What s3rver 3.7.1 checks and what it does not (read from its source):
 * - It implements PutObject, GetObject (Range), HeadObject, DeleteObject,
 *   ListObjectsV2 (paging), CreateMultipartUpload, UploadPart and
 *   CompleteMultipartUpload, with path-style addressing.
 * - It refuses an unknown access key id (InvalidAccessKeyId) and an unknown
 *   bucket (NoSuchBucket), but does not verify SigV4 signatures, so a wrong
 *   secret key is accepted.
 * - It does not verify Content-MD5, does not enforce the 5 MiB minimum part
 *   size, and does not check part ETags on complete.
 * - It lacks ListParts (405), ListMultipartUploads (501) and
 *   AbortMultipartUpload (405). With `multipartExtras` (the default) this
 *   helper serves those three calls itself from s3rver's own upload directory
 *   (<dir>/<bucket>/._S3rver_uploads/<uploadId>/{key,N,N.md5}), as the S3 API
 *   documents them. They are our emulation, not s3rver's: the real stores are
 *   the reference for them (docs/storage.md).
 * Every request is recorded (method, URL, headers) so tests can check what the
 * driver sent, e.g. the Content-MD5 of each part.
 */
import type { BlobTargetConfig } from "../../src/blob/index.js";
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  RequestListener,
  ServerResponse,
} from "node:http";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface S3rverInstance {
  configureBuckets(): Promise<unknown>;
  callback(): RequestListener;
  logger?: { close(): void };
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

/** s3rver's built-in account. */
const ACCESS_KEY_ID = "S3RVER";
const SECRET_ACCESS_KEY = "S3RVER";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  directory: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export interface S3rverOptions {
  /** Serve ListParts, ListMultipartUploads and AbortMultipartUpload (default true). */
  multipartExtras?: boolean;
  bucket?: string;
}

const escapeXml = (text: string): string =>
  text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function sendXml(res: ServerResponse, status: number, body: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(xml),
  });
  res.end(xml);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendXml(
    res,
    status,
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`,
  );
}

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/** The multipart calls s3rver lacks, over its own upload directory. */
class MultipartExtras {
  constructor(
    private readonly directory: string,
    private readonly bucket: string,
  ) {}

  private get uploadsDir(): string {
    return join(this.directory, this.bucket, "._S3rver_uploads");
  }

  /** Decides synchronously whether a request is ours; the work itself is async. */
  route(req: IncomingMessage, res: ServerResponse): Promise<void> | null {
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, bucket = "", ...rest] = url.pathname.split("/");
    const key = rest.map(decodeURIComponent).join("/");
    const uploadId = url.searchParams.get("uploadId");
    let work: (() => Promise<void>) | null = null;
    if (req.method === "GET" && key === "" && url.searchParams.has("uploads")) {
      work = () => this.listUploads(res, url.searchParams.get("prefix") ?? "");
    } else if (req.method === "GET" && key !== "" && uploadId !== null) {
      work = () => this.listParts(res, key, uploadId);
    } else if (req.method === "DELETE" && key !== "" && uploadId !== null) {
      work = () => this.abort(res, uploadId);
    }
    if (work === null) return null;
    // Same checks as s3rver's own routes: a known access key id and bucket.
    const credential = /Credential=([^/,\s]+)/.exec(req.headers.authorization ?? "")?.[1];
    if (credential !== ACCESS_KEY_ID) {
      sendError(
        res,
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
      );
      return Promise.resolve();
    }
    if (decodeURIComponent(bucket) !== this.bucket) {
      sendError(res, 404, "NoSuchBucket", "The specified bucket does not exist");
      return Promise.resolve();
    }
    return work().catch((err: unknown) => {
      sendError(res, 500, "InternalError", String(err));
    });
  }

  private async uploadIds(): Promise<string[]> {
    try {
      return (await readdir(this.uploadsDir)).sort();
    } catch {
      return [];
    }
  }

  private async listUploads(res: ServerResponse, prefix: string): Promise<void> {
    const uploads: string[] = [];
    for (const id of await this.uploadIds()) {
      const dir = join(this.uploadsDir, id);
      const key = await readFile(join(dir, "key"), "utf8").catch(() => null);
      if (key === null || !key.startsWith(prefix)) continue;
      const initiated = (await stat(dir)).mtime.toISOString();
      uploads.push(
        `<Upload><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
      );
    }
    sendXml(
      res,
      200,
      `<ListMultipartUploadsResult ${NS}><Bucket>${this.bucket}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join("")}</ListMultipartUploadsResult>`,
    );
  }

  private async listParts(res: ServerResponse, key: string, uploadId: string): Promise<void> {
    const dir = join(this.uploadsDir, uploadId);
    const names = await readdir(dir).catch(() => null);
    if (names === null) {
      sendError(res, 404, "NoSuchUpload", "The specified upload does not exist.");
      return;
    }
    const numbers = names.filter((n) => /^\d+$/.test(n) && names.includes(`${n}.md5`)).map(Number);
    const parts: string[] = [];
    for (const number of numbers.sort((a, b) => a - b)) {
      const stats = await stat(join(dir, String(number)));
      const md5 = await readFile(join(dir, `${number}.md5`), "utf8");
      parts.push(
        `<Part><PartNumber>${number}</PartNumber><LastModified>${stats.mtime.toISOString()}</LastModified><ETag>"${md5}"</ETag><Size>${stats.size}</Size></Part>`,
      );
    }
    sendXml(
      res,
      200,
      `<ListPartsResult ${NS}><Bucket>${this.bucket}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${uploadId}</UploadId><PartNumberMarker>0</PartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>${parts.join("")}</ListPartsResult>`,
    );
  }

  private async abort(res: ServerResponse, uploadId: string): Promise<void> {
    const dir = join(this.uploadsDir, uploadId);
    if (!/^[0-9a-f]+$/.test(uploadId) || (await stat(dir).catch(() => null)) === null) {
      sendError(res, 404, "NoSuchUpload", "The specified upload does not exist.");
      return;
    }
    await rm(dir, { recursive: true, force: true });
    res.writeHead(204).end();
  }
}

export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? "gamedock-test";
  const directory = await mkdtemp(join(tmpdir(), "gamedock-s3rver-"));
  const s3rver = new S3rver({
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const extras = options.multipartExtras === false ? null : new MultipartExtras(directory, bucket);
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (extras?.route(req, res)) return;
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    directory,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      s3rver.logger?.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** An s3 upload target on this s3rver, as config and openBlobStore take it (5 MiB parts). */
export function s3TargetOf(
  s3: S3rverHandle,
  overrides: Partial<Extract<BlobTargetConfig, { driver: "s3" }>> = {},
): Extract<BlobTargetConfig, { driver: "s3" }> {
  return {
    driver: "s3",
    endpoint: s3.endpoint,
    region: "us-east-1",
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    partSize: 5 * 1024 * 1024,
    partConcurrency: 2,
    publicUrl: "",
    ...overrides,
  };
}
