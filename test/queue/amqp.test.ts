/**
 * The RabbitMQ driver against the conformance suite on a real broker, under a
 * queue-name prefix unique to this run, plus its connection errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect } from "amqplib";
import { WAIT_RUNGS_MS, topology } from "../../src/queue/amqp/topology.js";
import { openQueueBackend } from "../../src/queue/index.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { queueConformance } from "./conformance.js";

const skip = await skipUnlessService("rabbitmq");
const prefix = `${uniquePrefix("queue")}.`;

/** Deletes every RabbitMQ queue this run declared. */
async function deleteRunQueues(names: string[]): Promise<void> {
  const connection = await connect(SERVICES.rabbitmq.url);
  try {
    const channel = await connection.createChannel();
    for (const name of names) {
      const queues = topology(prefix, name);
      await channel.deleteQueue(queues.main);
      await channel.deleteQueue(queues.dead);
      for (const rung of WAIT_RUNGS_MS) await channel.deleteQueue(queues.wait(rung));
    }
  } finally {
    await connection.close();
  }
}

queueConformance({
  title: "amqp",
  skip,
  config: { driver: "amqp", url: SERVICES.rabbitmq.url, prefix },
  cleanup: deleteRunQueues,
});

describe("amqp queue driver", { skip }, () => {
  it("reports an unreachable broker as E_SERVICE_UNAVAILABLE without the password", async () => {
    const url = "amqp://guest:s3cret-pw@127.0.0.1:1";
    await assert.rejects(openQueueBackend({ driver: "amqp", url, prefix }), (err: unknown) => {
      assert.ok(err instanceof Error && "code" in err);
      assert.equal(err.code, "E_SERVICE_UNAVAILABLE");
      assert.match(err.message, /127\.0\.0\.1:1/);
      assert.ok(!err.message.includes("s3cret-pw"), err.message);
      return true;
    });
  });

  it("reports refused credentials as E_CONFIG without the password", async () => {
    const url = "amqp://guest:wrong-s3cret@127.0.0.1:5672";
    await assert.rejects(openQueueBackend({ driver: "amqp", url, prefix }), (err: unknown) => {
      assert.ok(err instanceof Error && "code" in err);
      assert.equal(err.code, "E_CONFIG");
      assert.ok(!err.message.includes("wrong-s3cret"), err.message);
      return true;
    });
  });
});
