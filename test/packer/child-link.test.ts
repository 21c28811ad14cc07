/**
 * Signed links to a pack job's child on a server that needs a token: the
 * link downloads the child without the token, byte for byte; a tampered,
 * expired or borrowed signature is refused (403 E_SIGNATURE); without a
 * signature the token is still needed; signing needs the token.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { signedChildPath } from "../../src/packer/child-link.js";
import { fixture } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { skipUnlessTool } from "../helpers/tools.js";
import { waitFor } from "../helpers/wait.js";

const TOKEN = "child-link-test-token-0123456789";

describe("signed links to children", { skip: skipUnlessTool("apksigner") }, () => {
  let server: TestServer;
  let jobId = "";
  let sha256 = "";

  const call = (method: string, path: string, token: string | null = TOKEN) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const code = async (response: Response) =>
    ((await response.json()) as { error: { code: string } }).error.code;
  const base = () => `/api/v1/pack-jobs/${jobId}/channels/huawei`;

  before(async () => {
    server = await startTestServer({ server: { tokens: [TOKEN] } });
    await mkdir(join(server.data, "packages"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(server.data, "packages", "m.apk"));
    const created = await fetch(`${server.url}/api/v1/pack-jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ apk: "m.apk", channels: ["huawei"] }),
    });
    assert.equal(created.status, 201);
    jobId = ((await created.json()) as { id: string }).id;
    await waitFor(async () => {
      const job = (await (await call("GET", `/api/v1/pack-jobs/${jobId}`)).json()) as {
        status: string;
        channels: { output: { sha256: string } | null }[];
      };
      sha256 = job.channels[0]?.output?.sha256 ?? "";
      return job.status === "done";
    }, "the job done");
  });
  after(async () => {
    await server.close();
    await rm(server.data, { recursive: true, force: true });
  });

  it("downloads the child through the link without a token", async () => {
    const signed = await call("POST", `${base()}/sign?ttl=60`);
    assert.equal(signed.status, 200);
    const { url, expiresAt } = (await signed.json()) as { url: string; expiresAt: string };
    assert.match(
      url,
      /^\/api\/v1\/pack-jobs\/[^/]+\/channels\/huawei\/download\?expires=\d+&sig=[0-9a-f]{64}$/,
    );
    assert.ok(Date.parse(expiresAt) > Date.now());
    const download = await call("GET", url, null);
    assert.equal(download.status, 200);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(createHash("sha256").update(bytes).digest("hex"), sha256);
  });

  it("refuses a tampered, expired or borrowed signature, and asks for the token without one", async () => {
    const { url } = (await (await call("POST", `${base()}/sign`)).json()) as { url: string };
    const tampered = url.replace(/sig=(.)/, (_, c: string) => `sig=${c === "a" ? "b" : "a"}`);
    const refused = await call("GET", tampered, null);
    assert.equal(refused.status, 403);
    assert.equal(await code(refused), "E_SIGNATURE");

    // The expiry moved back: the signature no longer matches.
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = await call("GET", url.replace(/expires=\d+/, `expires=${past}`), null);
    assert.equal(expired.status, 403);

    // The same signature for another channel of the same job is not valid.
    const borrowed = await call("GET", url.replace("/channels/huawei/", "/channels/xiaomi/"), null);
    assert.equal(borrowed.status, 403);

    assert.equal((await call("GET", `${base()}/download`, null)).status, 401);
    assert.equal((await call("POST", `${base()}/sign`, null)).status, 401);
    assert.equal((await call("POST", `${base()}/sign?ttl=0`)).status, 400);
    assert.equal((await call("POST", `/api/v1/pack-jobs/${jobId}/channels/nope/sign`)).status, 404);
  });

  it("a link signed for a moment that has passed is refused as expired", async () => {
    const key = Buffer.from(
      (await readFile(join(server.data, "signing.key"), "utf8")).trim(),
      "hex",
    );
    const path = signedChildPath(key, jobId, "huawei", Math.floor(Date.now() / 1000) - 1);
    const response = await call("GET", path, null);
    assert.equal(response.status, 403);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "E_SIGNATURE");
    assert.match(body.error.message, /expired/);
  });
});
