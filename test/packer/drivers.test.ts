/**
 * The packaging service on real engines: jobs through the redis (BullMQ) and
 * amqp (RabbitMQ) queues, uploads to S3 (s3rver on loopback), notifications by
 * level to a webhook that checks signatures and to a Redis list, transient
 * failures retried then reported, and API tokens off loopback.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { fixture } from "../helpers/cli.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { startTestServer, waitForJob, type TestServer } from "../helpers/serve.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import type { ErrorJson, JobJson } from "./jobs.js";

const skip = await skipUnlessService("redis", "rabbitmq");
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

interface EventJson {
  id: string;
  type: string;
  jobId: string;
  channel?: string;
  status?: string;
  error?: { code: string };
}

describe("pack jobs on Redis, RabbitMQ, S3 and notifiers", { skip }, () => {
  let server: TestServer;
  let s3: S3rverHandle;
  let hook: Receiver;
  let redis: Redis;
  const prefix = uniquePrefix("packer");
  const list = `${prefix}:events`;
  const secret = "shared-secret-for-tests";

  before(async () => {
    s3 = await startS3rver();
    hook = await startReceiver(secret);
    redis = new Redis(SERVICES.redis.url);
    const s3Target = s3TargetOf(s3);
    server = await startTestServer({
      queues: {
        default: { driver: "sqlite", path: "" },
        redis: { driver: "redis", url: SERVICES.redis.url, prefix, lockMs: 5000 },
        amqp: { driver: "amqp", url: SERVICES.rabbitmq.url, prefix: `${prefix}.` },
      },
      targets: {
        fs: { driver: "fs", root: "" },
        s3: s3Target,
        // Nothing listens on port 9: every upload attempt fails with a transient error.
        dead: { ...s3Target, endpoint: "http://127.0.0.1:9" },
      },
      notifiers: {
        hook: { type: "webhook", url: hook.url, secret, timeoutMs: 2000, retries: 0 },
        game: { type: "redis", url: SERVICES.redis.url, list },
      },
      packer: { retry: { maxAttempts: 2, initialMs: 50, factor: 2, maxMs: 200 } },
    });
    await mkdir(join(server.data, "packages"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(server.data, "packages", "demo.apk"));
  });
  after(async () => {
    await server.close();
    await s3.close();
    await hook.close();
    await redis.del(list);
    redis.disconnect();
    await rm(server.data, { recursive: true, force: true });
  });

  const eventsOf = (jobId: string): EventJson[] =>
    hook.received.map((r) => r.json as EventJson).filter((e) => e.jobId === jobId);

  for (const queue of ["redis", "amqp"]) {
    it(`runs a job through the ${queue} queue into S3`, async () => {
      const created = await server.api("POST", "/api/v1/pack-jobs", {
        apk: "demo.apk",
        channels: ["huawei", "oppo", "vivo"],
        queue,
        upload: { target: "s3", prefix: `${queue}/` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const done = await waitForJob<JobJson>(server, (created.json as JobJson).id);
      assert.equal(done.status, "done", JSON.stringify(done));
      for (const channel of done.channels) {
        assert.match(channel.output!.key, new RegExp(`^${queue}/.*-${channel.channel}\\.apk$`));
        const response = await fetch(`${server.url}${channel.output!.url!}`);
        const bytes = Buffer.from(await response.arrayBuffer());
        assert.equal(sha256(bytes), channel.output!.sha256, "the object in S3 is the child");
      }
    });
  }

  it("level each: every channel and the summary reach the webhook and the Redis list", async () => {
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "demo.apk",
      channels: ["a1", "a2"],
      notify: { level: "each" },
    });
    const { id } = created.json as JobJson;
    const done = await waitForJob<JobJson>(server, id);
    assert.equal(done.status, "done");
    const events = eventsOf(id);
    assert.deepEqual(events.map((e) => e.type).sort(), [
      "channel.done",
      "channel.done",
      "job.finished",
    ]);
    assert.equal(events.find((e) => e.type === "job.finished")?.status, "done");
    for (const request of hook.received.filter((r) => (r.json as EventJson).jobId === id)) {
      assert.equal(request.signatureValid, true, "signed with the shared secret");
      assert.equal(request.headers["idempotency-key"], (request.json as EventJson).id);
    }
    const pushed = (await redis.lrange(list, 0, -1))
      .map((text) => JSON.parse(text) as EventJson)
      .filter((e) => e.jobId === id);
    assert.deepEqual(
      pushed.map((e) => e.id).sort(),
      events.map((e) => e.id).sort(),
      "the game server's list gets the same events",
    );
  });

  it("level summary sends only job.finished; level none sends nothing", async () => {
    const summary = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "demo.apk",
      channels: ["b1", "b2"],
      notify: { level: "summary", targets: ["hook"] },
    });
    const none = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "demo.apk",
      channels: ["b3"],
    });
    await waitForJob<JobJson>(server, (summary.json as JobJson).id);
    await waitForJob<JobJson>(server, (none.json as JobJson).id);
    // job.finished is queued after the job's last channel: give delivery a moment.
    await waitFor(() => eventsOf((summary.json as JobJson).id).length === 1);
    assert.deepEqual(
      eventsOf((summary.json as JobJson).id).map((e) => e.type),
      ["job.finished"],
    );
    assert.deepEqual(eventsOf((none.json as JobJson).id), []);
  });

  it("retries a transient upload failure with backoff, then fails and notifies (level failure)", async () => {
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "demo.apk",
      channels: ["down"],
      upload: { target: "dead" },
      notify: { level: "failure", targets: ["hook"] },
    });
    const { id } = created.json as JobJson;
    const finished = await waitForJob<JobJson>(server, id);
    assert.equal(finished.status, "failed");
    const [channel] = finished.channels;
    assert.equal(channel?.state, "failed");
    // One pack that finished, then maxAttempts (2) upload starts that did not.
    assert.equal(channel.attempts, 3, "maxAttempts unfinished starts, then it gives up");
    assert.ok(["E_SERVICE_UNAVAILABLE", "E_UPLOAD_FAILED"].includes(channel.error!.code));
    await waitFor(() => eventsOf(id).length === 1);
    const [event] = eventsOf(id);
    assert.equal(event?.type, "channel.failed");
    assert.equal(event.channel, "down");
    assert.equal(event.id, `${id}:down:failed:0`);
  });
});

describe("API tokens off loopback", () => {
  it("refuses to start on 0.0.0.0 without tokens", async () => {
    await assert.rejects(
      startTestServer({ server: { host: "0.0.0.0" } }),
      (err: Error & { code?: string }) =>
        err.code === "E_CONFIG" && /server\.tokens/.test(err.message),
    );
  });

  it("answers 401 without the token and serves with it", async () => {
    const server = await startTestServer({ server: { host: "0.0.0.0", tokens: ["t0ken"] } });
    try {
      const denied = await server.api("GET", "/api/v1/pack-jobs");
      assert.equal(denied.status, 401);
      assert.equal((denied.json as ErrorJson).error.code, "E_UNAUTHORIZED");
      const url = server.url.replace("0.0.0.0", "127.0.0.1");
      const wrong = await fetch(`${url}/api/v1/pack-jobs`, {
        headers: { authorization: "Bearer wrong" },
      });
      assert.equal(wrong.status, 401);
      const allowed = await fetch(`${url}/api/v1/pack-jobs`, {
        headers: { authorization: "Bearer t0ken" },
      });
      assert.equal(allowed.status, 200);
      const health = await server.api("GET", "/healthz");
      assert.equal(health.status, 200, "health checks need no token");
    } finally {
      await server.close();
      await rm(server.data, { recursive: true, force: true });
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
