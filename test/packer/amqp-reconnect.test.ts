/**
 * A pack job on the amqp queue survives RabbitMQ closing the server's
 * connection mid-job. `gamedock serve` (in-process) packs 10 channels into S3
 * (s3rver behind a TCP proxy the test can hold); while uploads hang on the held
 * proxy, the test closes the server's own named RabbitMQ connection from the
 * broker (rabbitmqctl close_connection — never close_all_connections, which
 * would cut other test files). The queue driver reconnects and resumes its
 * consumers, the deliveries in flight come back, and the job still ends done
 * with every channel done once and one object per channel.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBlobStore } from "../../src/blob/index.js";
import { fixture } from "../helpers/cli.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { startTestServer, waitForJob, type TestServer } from "../helpers/serve.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { waitFor } from "../queue/helpers.js";
import {
  closeConnectionsNamed,
  deleteQueuesWithPrefix,
  skipUnlessRabbitmqctl,
  waitForConnections,
} from "../queue/rabbitmqctl.js";
import { startTcpProxy, type TcpProxy } from "../queue/tcp-proxy.js";
import type { JobJson } from "./jobs.js";

const skip = (await skipUnlessService("rabbitmq")) || (await skipUnlessRabbitmqctl());
const CHANNELS = Array.from({ length: 10 }, (_, i) => `ch${String(i).padStart(2, "0")}`);

describe("a pack job on RabbitMQ when the broker closes the connection", { skip }, () => {
  let server: TestServer;
  let s3: S3rverHandle;
  let proxy: TcpProxy;
  const prefix = `${uniquePrefix("packer_reconnect")}.`;
  /** The server's amqp connection: its connection_name ends with the queue prefix. */
  const connectionName = `prefix=${prefix}`;

  before(async () => {
    s3 = await startS3rver();
    proxy = await startTcpProxy(Number(new URL(s3.endpoint).port));
    server = await startTestServer({
      queues: {
        default: { driver: "sqlite", path: "" },
        amqp: { driver: "amqp", url: SERVICES.rabbitmq.url, prefix },
      },
      targets: {
        fs: { driver: "fs", root: "" },
        s3: s3TargetOf(s3, { endpoint: `http://127.0.0.1:${proxy.port}` }),
      },
    });
    await mkdir(join(server.data, "packages"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(server.data, "packages", "demo.apk"));
  });
  after(async () => {
    proxy.release();
    await server.close();
    await proxy.close();
    await s3.close();
    await rm(server.data, { recursive: true, force: true });
    await deleteQueuesWithPrefix(prefix);
  });

  it(
    "finishes with every channel done once after a mid-job cut",
    { timeout: 120_000 },
    async () => {
      proxy.hold();
      const created = await server.api("POST", "/api/v1/pack-jobs", {
        apk: "demo.apk",
        channels: CHANNELS,
        queue: "amqp",
        upload: { target: "s3" },
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const { id } = created.json as JobJson;

      // Uploads hang on the held proxy: their queue deliveries are in flight.
      await waitFor(() => proxy.held() > 0, "an upload in flight");
      const cut = await closeConnectionsNamed(connectionName);
      assert.equal(cut.length, 1, "the server's one amqp connection");
      const cutPids = new Set(cut.map((c) => c.pid));
      await waitForConnections(
        connectionName,
        (connections) => connections.some((c) => !cutPids.has(c.pid)),
        "the server to reconnect",
      );
      proxy.release();

      const job = await waitForJob<JobJson>(server, id);
      assert.equal(job.status, "done", JSON.stringify(job));
      assert.deepEqual(
        job.channels.map((c) => c.channel).sort(),
        CHANNELS,
        "every channel once in the job",
      );
      for (const channel of job.channels) {
        assert.equal(channel.state, "done", JSON.stringify(channel));
        assert.ok(channel.output, `${channel.channel} has an output`);
      }
      const store = await openBlobStore(s3TargetOf(s3));
      const keys: string[] = [];
      try {
        for await (const object of store.list("")) keys.push(object.key);
      } finally {
        await store.close();
      }
      assert.deepEqual(
        keys.sort(),
        job.channels.map((c) => c.output!.key).sort(),
        "one object per channel, nothing else",
      );
    },
  );
});
