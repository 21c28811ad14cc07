/**
 * Who may use /files when server.tokens is set: tokens for uploads, deletes
 * and signing; a token or a signed, expiring URL for downloads. Runs through
 * `gamedock serve`, so the packaging API's own token check is covered too.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  loadConfig,
  Lifecycle,
  ManualClock,
  createLogger,
  isGamedockError,
} from "../../src/core/index.js";
import { openDatabase } from "../../src/db/index.js";
import { SqlFileMetadata, signedPath, tokenOwner } from "../../src/files/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { startFiles } from "../../src/server/index.js";
import { tempDir } from "../helpers/cli.js";
import {
  putFile,
  rawRequest,
  startFilesServer,
  type ErrorBody,
  type FileBody,
  type FilesTestServer,
} from "../helpers/files-server.js";

const ALPHA = "alpha-token-0123456789";
const BETA = "beta-token-9876543210";
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const USER_SECRET = "files-user-secret-0123456789abcdef0123";
const userToken = (uid: string): Promise<string> =>
  mintToken(new TextEncoder().encode(USER_SECRET), { uid, ttlSeconds: 600 });

async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; body: Buffer; code: string | undefined }> {
  const response = await fetch(url, init);
  const body = Buffer.from(await response.arrayBuffer());
  let code: string | undefined;
  try {
    code = (JSON.parse(body.toString()) as ErrorBody).error.code;
  } catch {
    code = undefined;
  }
  return { status: response.status, body, code };
}

describe("/files with API tokens (gamedock serve)", () => {
  let server: FilesTestServer;
  const body = randomBytes(500);
  let file: FileBody;

  before(async () => {
    server = await startFilesServer(
      {
        server: { tokens: [ALPHA, BETA] },
        files: { sweepIntervalMs: 3_600_000 },
        realtime: { jwtSecret: USER_SECRET },
      },
      { via: "serve" },
    );
    const put = await putFile(server.url, "secret.bin", body, { headers: bearer(ALPHA) });
    assert.equal(put.status, 201, JSON.stringify(put.json));
    file = put.json as FileBody;
  });
  after(async () => {
    await server.close();
  });

  it("needs a known token to upload, and records a hash of it as the owner", async () => {
    for (const headers of [{}, bearer("wrong"), { authorization: ALPHA }, bearer("")]) {
      const res = await call(`${server.url}/files/x.bin`, { method: "PUT", headers, body });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.code, "E_UNAUTHORIZED");
    }
    const database = await openDatabase({
      driver: "sqlite",
      path: join(server.data, "gamedock.db"),
    });
    try {
      const record = await new SqlFileMetadata(database).getFile(file.id);
      assert.equal(record?.owner, tokenOwner(ALPHA));
      assert.match(record.owner, /^t-[0-9a-f]{16}$/);
      assert.ok(!record.owner.includes(ALPHA));
    } finally {
      await database.close();
    }
    const log = await readFile(join(server.data, "gamedock.log"), "utf8").catch(() => "");
    assert.ok(!log.includes(ALPHA) && !log.includes(BETA), "a token reached the log");
  });

  it("needs a token to download without a signature", async () => {
    const url = `${server.url}${file.url}`;
    assert.equal((await call(url)).status, 401);
    assert.equal((await call(url, { headers: bearer(BETA) })).status, 200);
    const byDigest = `${server.url}/files/by-sha256/${file.sha256}`;
    assert.equal((await call(byDigest)).status, 401);
    assert.deepEqual((await call(byDigest, { headers: bearer(ALPHA) })).body, body);
  });

  it("keeps the rest of the server behind tokens, /healthz open", async () => {
    assert.equal((await call(`${server.url}/healthz`)).status, 200);
    assert.equal((await call(`${server.url}/api/v1/pack-jobs`)).status, 401);
    assert.equal(
      (await call(`${server.url}/api/v1/pack-jobs`, { headers: bearer(ALPHA) })).status,
      200,
    );
  });

  it("signs download URLs that work without a token until they expire", async () => {
    const path = `${server.url}${file.url}/sign?ttl=60`;
    assert.equal((await call(path, { method: "POST" })).status, 401);
    const signed = await call(path, { method: "POST", headers: bearer(BETA) });
    assert.equal(signed.status, 200);
    const { url, expiresAt } = JSON.parse(signed.body.toString()) as {
      url: string;
      expiresAt: string;
    };
    assert.match(url, new RegExp(`^/files/${file.id}\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    assert.ok(Math.abs(Date.parse(expiresAt) - Date.now() - 60_000) < 5000);
    assert.deepEqual((await call(`${server.url}${url}`)).body, body);
    const range = await call(`${server.url}${url}`, { headers: { range: "bytes=0-9" } });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, body.subarray(0, 10));
  });

  it("refuses tampered, foreign and malformed signatures with 403 E_SIGNATURE", async () => {
    const other = (
      await putFile(server.url, "other.bin", randomBytes(20), { headers: bearer(ALPHA) })
    ).json as FileBody;
    const signed = await call(`${server.url}${file.url}/sign`, {
      method: "POST",
      headers: bearer(ALPHA),
    });
    const url = new URL((JSON.parse(signed.body.toString()) as { url: string }).url, server.url);
    const expires = url.searchParams.get("expires") ?? "";
    const sig = url.searchParams.get("sig") ?? "";
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;
    const variants = [
      `${file.url}?expires=${expires}&sig=${flipped}`,
      `${file.url}?expires=${Number(expires) + 1}&sig=${sig}`,
      `${other.url}?expires=${expires}&sig=${sig}`,
      `${file.url}?expires=${expires}`,
      `${file.url}?sig=${sig}`,
      `${file.url}?expires=soon&sig=${sig}`,
      `${file.url}?expires=${expires}&sig=xyz`,
      `/files/by-sha256/${file.sha256}?expires=${expires}&sig=${sig}`,
    ];
    for (const path of variants) {
      const res = await call(`${server.url}${path}`);
      assert.equal(res.status, 403, path);
      assert.equal(res.code, "E_SIGNATURE", path);
    }
    // An expired signature computed with the server's own key.
    const key = Buffer.from(
      (await readFile(join(server.data, "signing.key"), "utf8")).trim(),
      "hex",
    );
    const past = signedPath(key, file.id, Math.floor(Date.now() / 1000) - 10);
    assert.equal((await call(`${server.url}${past}`)).code, "E_SIGNATURE");
    const future = signedPath(key, file.id, Math.floor(Date.now() / 1000) + 100);
    assert.equal((await call(`${server.url}${future}`)).status, 200);
  });

  it("does not let a signature upload, delete, sign or resume a tus upload", async () => {
    const key = Buffer.from(
      (await readFile(join(server.data, "signing.key"), "utf8")).trim(),
      "hex",
    );
    const query = signedPath(key, file.id, Math.floor(Date.now() / 1000) + 100).split("?")[1];
    const del = await call(`${server.url}${file.url}?${query}`, { method: "DELETE" });
    assert.equal(del.status, 401);
    const sign = await call(`${server.url}${file.url}/sign?${query}`, { method: "POST" });
    assert.equal(sign.status, 401);
    const put = await call(`${server.url}/files/new.bin?${query}`, { method: "PUT", body });
    assert.equal(put.status, 401);
    const tusHead = await rawRequest(server.url, {
      method: "HEAD",
      path: `${file.url}?${query}`,
      headers: { "tus-resumable": "1.0.0" },
    });
    assert.equal(tusHead.status, 401);
  });

  it("answers a tus upload only to the token that created it; others get 404", async () => {
    const tus = (token: string | null, extra: Record<string, string> = {}) => ({
      "tus-resumable": "1.0.0",
      ...(token ? bearer(token) : {}),
      ...extra,
    });
    const created = await fetch(`${server.url}/files/`, {
      method: "POST",
      headers: tus(ALPHA, { "upload-length": "10" }),
    });
    assert.equal(created.status, 201);
    const url = `${server.url}${created.headers.get("location") ?? ""}`;
    const patch = (token: string, offset: number, bytes: Buffer) =>
      call(url, {
        method: "PATCH",
        headers: tus(token, {
          "content-type": "application/offset+octet-stream",
          "upload-offset": String(offset),
        }),
        body: bytes,
      });
    assert.equal((await patch(ALPHA, 0, Buffer.from("01234"))).status, 204);

    // BETA learns nothing: the same answer as for an id that does not exist.
    const unknown = await call(`${server.url}/files/lq0abcdefghijklmnopqrstu`, {
      method: "PATCH",
      headers: tus(BETA, {
        "content-type": "application/offset+octet-stream",
        "upload-offset": "0",
      }),
      body: Buffer.from("x"),
    });
    assert.equal(unknown.status, 404);
    const foreignPatch = await patch(BETA, 5, Buffer.from("56789"));
    assert.equal(foreignPatch.status, 404);
    assert.equal(foreignPatch.code, "E_NOT_FOUND");
    const message = (body: Buffer) => (JSON.parse(body.toString()) as ErrorBody).error.message;
    assert.equal(message(foreignPatch.body), message(unknown.body));
    const foreignHead = await fetch(url, { method: "HEAD", headers: tus(BETA) });
    assert.equal(foreignHead.status, 404);
    assert.equal(foreignHead.headers.get("upload-offset"), null);
    const foreignDelete = await call(url, { method: "DELETE", headers: tus(BETA) });
    assert.equal(foreignDelete.status, 404);
    assert.equal(foreignDelete.code, "E_NOT_FOUND");

    // The owner's upload is untouched and finishes.
    const head = await fetch(url, { method: "HEAD", headers: tus(ALPHA) });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("upload-offset"), "5");
    assert.equal((await patch(ALPHA, 5, Buffer.from("56789"))).status, 204);
    // Finished, it is a file: its tus HEAD is still the owner's alone.
    assert.equal((await fetch(url, { method: "HEAD", headers: tus(BETA) })).status, 404);
    assert.equal((await fetch(url, { method: "HEAD", headers: tus(ALPHA) })).status, 200);
    assert.equal((await call(url, { headers: bearer(ALPHA) })).body.toString(), "0123456789");
  });

  it("lets only the uploading token delete a file", async () => {
    const doomed = (
      await putFile(server.url, "doomed.bin", randomBytes(30), { headers: bearer(ALPHA) })
    ).json as FileBody;
    const url = `${server.url}${doomed.url}`;
    assert.equal((await call(url, { method: "DELETE" })).status, 401);
    const foreign = await call(url, { method: "DELETE", headers: bearer(BETA) });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.code, "E_NO_PERMISSION");
    assert.equal((await call(url, { method: "DELETE", headers: bearer(ALPHA) })).status, 204);
    assert.equal((await call(url, { headers: bearer(ALPHA) })).status, 404);
  });

  it("takes a user's realtime token too: its files are uid:<uid>'s, and only that user's to delete", async () => {
    const put = await putFile(server.url, "voice.amr", body, {
      headers: bearer(await userToken("alice")),
    });
    assert.equal(put.status, 201, JSON.stringify(put.json));
    const id = (put.json as FileBody).id;
    const database = await openDatabase({
      driver: "sqlite",
      path: join(server.data, "gamedock.db"),
    });
    try {
      assert.equal((await new SqlFileMetadata(database).getFile(id))?.owner, "uid:alice");
    } finally {
      await database.close();
    }
    const del = (headers: Record<string, string>) =>
      call(`${server.url}/files/${id}`, { method: "DELETE", headers });
    assert.equal((await del(bearer(await userToken("mallory")))).status, 403);
    assert.equal((await del(bearer(ALPHA))).status, 403, "an API token did not upload it either");
    const forged = `${(await userToken("alice")).slice(0, -6)}AAAAAA`;
    const refused = await del(bearer(forged));
    assert.deepEqual([refused.status, refused.code], [401, "E_TOKEN_INVALID"]);
    assert.equal((await del(bearer(await userToken("alice")))).status, 204);
    // Users reach the files, not the rest of the API.
    const api = await call(`${server.url}/api/v1/pack-jobs`, {
      headers: bearer(await userToken("alice")),
    });
    assert.equal(api.status, 401);
  });

  it("checks sign's ttl", async () => {
    for (const ttl of ["0", "-5", "x"]) {
      const res = await call(`${server.url}${file.url}/sign?ttl=${ttl}`, {
        method: "POST",
        headers: bearer(ALPHA),
      });
      assert.equal(res.status, 400, ttl);
      assert.equal(res.code, "E_INVALID_REQUEST");
    }
    const unknown = await call(`${server.url}/files/nosuch/sign`, {
      method: "POST",
      headers: bearer(ALPHA),
    });
    assert.equal(unknown.status, 404);
  });
});

describe("signed URLs expire by the service's clock", () => {
  it("works until `expires`, then answers 403 E_SIGNATURE", async () => {
    const clock = new ManualClock();
    const server = await startFilesServer(
      { server: { tokens: [ALPHA] }, files: { sweepIntervalMs: 3_600_000 } },
      { clock },
    );
    try {
      const file = (await putFile(server.url, "t.bin", randomBytes(10), { headers: bearer(ALPHA) }))
        .json as FileBody;
      const short = await call(`${server.url}${file.url}/sign?ttl=1`, {
        method: "POST",
        headers: bearer(ALPHA),
      });
      const { url, expiresAt } = JSON.parse(short.body.toString()) as {
        url: string;
        expiresAt: string;
      };
      assert.equal(Date.parse(expiresAt), (Math.floor(clock.now() / 1000) + 1) * 1000);
      assert.equal((await call(`${server.url}${url}`)).status, 200);
      clock.set(Date.parse(expiresAt));
      const expired = await call(`${server.url}${url}`);
      assert.equal(expired.status, 403);
      assert.equal(expired.code, "E_SIGNATURE");
    } finally {
      await server.close();
    }
  });
});

describe("the signing key", () => {
  it("is generated once into <data>/signing.key (0600) and survives a restart", async () => {
    const first = await startFilesServer({ server: { tokens: [ALPHA] } });
    const keyFile = join(first.data, "signing.key");
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const file = (await putFile(first.url, "k.bin", randomBytes(10), { headers: bearer(ALPHA) }))
      .json as FileBody;
    const signed = await call(`${first.url}${file.url}/sign`, {
      method: "POST",
      headers: bearer(ALPHA),
    });
    const { url } = JSON.parse(signed.body.toString()) as { url: string };
    const key = await readFile(keyFile, "utf8");
    await first.close({ keepData: true });
    const second = await startFilesServer({ server: { tokens: [ALPHA] } }, { data: first.data });
    try {
      assert.equal(await readFile(keyFile, "utf8"), key);
      assert.equal((await call(`${second.url}${url}`)).status, 200);
    } finally {
      await second.close();
    }
  });

  it("is files.signingSecret when set: sig = HMAC-SHA256(secret, id \\n expires)", async () => {
    const secret = "shared-by-every-instance";
    const server = await startFilesServer({
      server: { tokens: [ALPHA] },
      files: { signingSecret: secret },
    });
    try {
      await assert.rejects(stat(join(server.data, "signing.key")));
      const file = (await putFile(server.url, "s.bin", randomBytes(10), { headers: bearer(ALPHA) }))
        .json as FileBody;
      const expires = Math.floor(Date.now() / 1000) + 60;
      const sig = createHmac("sha256", secret).update(`${file.id}\n${expires}`).digest("hex");
      const res = await call(`${server.url}${file.url}?expires=${expires}&sig=${sig}`);
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
  });
});

describe("exposure", () => {
  it("refuses to listen beyond loopback without tokens", async () => {
    const data = await tempDir("gamedock-files-exposed-");
    const config = await loadConfig({
      env: { GAMEDOCK_DATA: data, GAMEDOCK_SERVER_HOST: "0.0.0.0", GAMEDOCK_SERVER_PORT: "0" },
    });
    const logger = await createLogger({ level: "silent" });
    await assert.rejects(startFiles(config, logger, new Lifecycle()), (err: unknown) => {
      assert.ok(isGamedockError(err));
      assert.equal(err.code, "E_CONFIG");
      return true;
    });
  });
});
