/**
 * The amqp driver when its connection is lost: the broker closes the test's
 * own named connection mid-stream (rabbitmqctl close_connection), and a TCP
 * proxy plays a broker that is gone for a while, or for good. Only this
 * file's connections are cut; other test files keep theirs.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { isGamedockError } from "../../src/core/index.js";
import { AmqpBackend } from "../../src/queue/amqp/backend.js";
import { reconnectDelay } from "../../src/queue/amqp/connection.js";
import { openQueueBackend, type OpenQueueOptions } from "../../src/queue/index.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { captureLogger, waitFor, type LogLine } from "./helpers.js";
import {
  closeConnectionsNamed,
  deleteQueuesWithPrefix,
  skipUnlessRabbitmqctl,
  waitForConnections,
} from "./rabbitmqctl.js";
import { startTcpProxy } from "./tcp-proxy.js";

const skip = (await skipUnlessService("rabbitmq")) || (await skipUnlessRabbitmqctl());
const prefix = `${uniquePrefix("reconnect")}.`;
const TEST_TIMEOUT = { timeout: 60_000 };

interface Payload {
  n: number;
}

async function openAmqp(url: string, options: OpenQueueOptions = {}): Promise<AmqpBackend> {
  const backend = await openQueueBackend({ driver: "amqp", url, prefix }, options);
  assert.ok(backend instanceof AmqpBackend);
  return backend;
}

const said = (lines: LogLine[], pattern: RegExp): LogLine[] =>
  lines.filter((line) => pattern.test(line.msg));

describe("amqp reconnect backoff", () => {
  it("doubles from 100 ms up to 10 s, jittered downwards only, so the bound holds", () => {
    const steps = [1, 2, 3, 4, 7, 8, 50].map((failures) => reconnectDelay(failures, () => 0));
    assert.deepEqual(steps, [100, 200, 400, 800, 6400, 10_000, 10_000]);
    for (const failures of [1, 5, 8, 1000]) {
      const step = reconnectDelay(failures, () => 0);
      const low = reconnectDelay(failures, () => 0.999_999);
      assert.ok(low >= step * 0.7 && low <= step, `${low} within 70-100 % of ${step}`);
    }
  });
});

describe("amqp queue driver: lost connections", { skip }, () => {
  after(async () => {
    await deleteQueuesWithPrefix(prefix);
  });

  it(
    "resumes a consumer after the broker closed its connection: every message handled, each acked once, none lost",
    TEST_TIMEOUT,
    async () => {
      const { logger, lines } = captureLogger();
      const backend = await openAmqp(SERVICES.rabbitmq.url, { logger });
      const name = backend.connectionName;
      assert.match(name, new RegExp(`/${process.pid}/[0-9a-f]+ prefix=${prefix}$`));
      const queue = backend.open<Payload>("stream");
      const before = 30;
      const afterCut = 10;
      for (let n = 0; n < before; n++) await queue.enqueue({ n });

      // The first three deliveries (as many as the concurrency) are held until
      // the consumer has resumed on a new connection, so the cut finds them in
      // flight and their acks go to a dead channel.
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const handled = new Map<number, number>();
      const idOf = new Map<string, number>();
      const ackCalls = new Map<number, number>();
      const ackFailures: unknown[] = [];
      const consumer = queue.consume(
        async (delivery) => {
          const { n } = delivery.payload;
          idOf.set(delivery.id, n);
          const times = (handled.get(n) ?? 0) + 1;
          handled.set(n, times);
          if (n < 3 && times === 1) await gate;
          try {
            await delivery.ack();
            ackCalls.set(n, (ackCalls.get(n) ?? 0) + 1);
          } catch (err) {
            ackFailures.push(err);
          }
        },
        { concurrency: 3 },
      );
      try {
        await waitFor(() => [0, 1, 2].every((n) => handled.has(n)), "three held deliveries");
        const [cut] = await closeConnectionsNamed(name);
        assert.ok(cut);
        // Enqueued while the connection is down or coming back: waits, then succeeds.
        for (let n = before; n < before + afterCut; n++) await queue.enqueue({ n });
        await waitFor(
          () => said(lines, /amqp consumer resumed/).length === 1,
          "the consumer to resume",
        );
        const [again] = await waitForConnections(name, (c) => c.length === 1, "one connection");
        assert.notEqual(again?.pid, cut.pid, "a new connection, under the same name");
        release();

        const all = [...Array(before + afterCut).keys()];
        await waitFor(
          () => all.every((n) => (ackCalls.get(n) ?? 0) >= (n < 3 ? 2 : 1)),
          "every message acked",
        );
        await waitFor(async () => (await queue.pendingCount()) === 0, "an empty queue");
      } finally {
        release();
        await consumer.close();
      }

      assert.deepEqual(ackFailures, [], "no ack rejected into the handler");
      const skipped = said(lines, /settling skipped/).map((line) =>
        idOf.get(String(line.fields.id)),
      );
      assert.deepEqual(
        skipped.sort(),
        [0, 1, 2],
        "the acks of the three deliveries in flight at the cut were skipped",
      );
      for (let n = 0; n < before + afterCut; n++) {
        const expected = n < 3 ? 2 : 1;
        assert.equal(handled.get(n), expected, `message ${n} handled ${expected} time(s)`);
        const acked = (ackCalls.get(n) ?? 0) - skipped.filter((s) => s === n).length;
        assert.equal(acked, 1, `message ${n} acked once on a live channel`);
      }
      assert.equal(said(lines, /amqp connection lost/).length, 1, "the loss is logged");
      assert.equal(said(lines, /amqp connection restored/).length, 1, "so is the return");
      assert.ok(
        !lines.some((line) => /unknown delivery tag|PRECONDITION/i.test(JSON.stringify(line))),
        "no ack went to the wrong channel",
      );

      await backend.close();
      await waitForConnections(name, (c) => c.length === 0, "the connection to be gone");
      const reopened = await openAmqp(SERVICES.rabbitmq.url);
      try {
        assert.equal(await reopened.open("stream").pendingCount(), 0, "nothing left");
      } finally {
        await reopened.close();
      }
    },
  );

  it(
    "an enqueue during an outage waits for the broker to come back, then is delivered",
    TEST_TIMEOUT,
    async () => {
      const proxy = await startTcpProxy(SERVICES.rabbitmq.port);
      const { logger, lines } = captureLogger();
      const backend = await openAmqp(`amqp://guest:guest@127.0.0.1:${proxy.port}`, { logger });
      try {
        const queue = backend.open<Payload>("outage");
        const seen: number[] = [];
        const consumer = queue.consume(
          async (delivery) => {
            seen.push(delivery.payload.n);
            await delivery.ack();
          },
          { concurrency: 1 },
        );
        await queue.enqueue({ n: 1 });
        await waitFor(() => seen.length === 1, "the first message");

        assert.equal(await backend.health(), "amqp");
        await proxy.cut();
        await waitFor(() => said(lines, /amqp connection lost/).length === 1, "the loss");
        // The dashboard's health check says so at once, without waiting for the broker.
        await assert.rejects(backend.health(), { code: "E_SERVICE_UNAVAILABLE" });
        const enqueued = queue.enqueue({ n: 2 });
        await waitFor(
          () => said(lines, /amqp reconnect failed/).length >= 1,
          "a failed reconnect attempt",
        );
        await proxy.restore();
        await enqueued;
        assert.equal(await backend.health(), "amqp");
        await waitFor(() => seen.length === 2, "the message enqueued during the outage");
        await consumer.close();
        assert.deepEqual(seen, [1, 2]);
        assert.equal(said(lines, /amqp consumer resumed/).length, 1);
      } finally {
        await backend.close();
        await proxy.close();
      }
    },
  );

  it(
    "a broker that never comes back: enqueue fails after the wait with a retryable E_SERVICE_UNAVAILABLE, without the password",
    TEST_TIMEOUT,
    async () => {
      const proxy = await startTcpProxy(SERVICES.rabbitmq.port);
      const { logger, lines } = captureLogger();
      const backend = await openAmqp(`amqp://guest:guest@127.0.0.1:${proxy.port}`, {
        logger,
        amqp: { reconnectWaitMs: 1000 },
      });
      try {
        const queue = backend.open<Payload>("gone");
        await queue.enqueue({ n: 1 });
        await proxy.cut();
        await waitFor(() => said(lines, /amqp connection lost/).length === 1, "the loss");
        await assert.rejects(queue.enqueue({ n: 2 }), (err: unknown) => {
          assert.ok(isGamedockError(err), String(err));
          assert.equal(err.code, "E_SERVICE_UNAVAILABLE");
          assert.equal(err.retryable, true);
          assert.match(
            err.message,
            new RegExp(`RabbitMQ at amqp://guest:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}`),
          );
          assert.match(err.message, /did not come back within 1000 ms/);
          assert.ok(!err.message.includes("guest:guest"), err.message);
          return true;
        });
        await assert.rejects(queue.pendingCount(), { code: "E_SERVICE_UNAVAILABLE" });
      } finally {
        await backend.close();
        await proxy.close();
      }
      await assert.rejects(
        backend.open<Payload>("gone").enqueue({ n: 3 }),
        /closed/,
        "a closed backend says so at once",
      );
    },
  );
});
