/**
 * A consumer of one RabbitMQ queue. It consumes on a channel of its own with
 * prefetch = concurrency, so RabbitMQ never hands it more unacked messages than
 * handlers may run; if the process dies, RabbitMQ requeues those messages when
 * the connection drops.
 *
 * When its channel or the backend's connection is lost, the consumer opens a
 * new channel on the restored connection (backing off between failed starts)
 * and consumes again with the same concurrency. A delivery still being handled
 * then belongs to a dead channel; RabbitMQ has requeued it and delivers it
 * again, and its settlement is skipped (settle.ts).
 */
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { asError } from "../../core/index.js";
import type { Consumer, Handler } from "../contract.js";
import { runHandler, trackDelivery } from "../delivery.js";
import type { QueueLogger } from "../queue-logger.js";
import { pause, reconnectDelay, type AmqpLink } from "./connection.js";
import type { AmqpPublisher } from "./publisher.js";
import { fieldsOf, settleActions } from "./settle.js";

export interface AmqpConsumerDeps<T> {
  link: AmqpLink;
  publisher: AmqpPublisher;
  queue: string;
  handler: Handler<T>;
  concurrency: number;
  log: QueueLogger;
  /** Counts this process's unsettled deliveries of the queue, for pendingCount(). */
  inFlight: { add(delta: number): void };
}

/** One channel this consumer consumed on; deliveries settle on the session they came from. */
interface Session {
  readonly channel: Channel;
  /** False once the channel closed: its deliveries can no longer be settled. */
  open: boolean;
  readonly closed: Promise<void>;
  tag: string;
}

/** A channel that stayed open this long is healthy: its loss starts the backoff afresh (ms). */
const STABLE_SESSION_MS = 10_000;

export class AmqpConsumer<T> implements Consumer {
  private readonly running = new Set<Promise<void>>();
  /**
   * Messages delivered while every handler slot is busy. Prefetch alone does
   * not bound handlers: an ack frees a prefetch slot while its handler may
   * still be finishing, and handlers of a lost channel still run while the
   * new channel delivers.
   */
  private readonly backlog: { session: Session; message: ConsumeMessage }[] = [];
  private active = 0;
  private session: Session | undefined;
  private readonly stopping = new AbortController();
  private readonly stopped: Promise<void>;
  private readonly loop: Promise<void>;
  private closing: Promise<void> | undefined;

  constructor(private readonly deps: AmqpConsumerDeps<T>) {
    const signal = this.stopping.signal;
    this.stopped = new Promise((resolve) => {
      signal.addEventListener(
        "abort",
        () => {
          resolve();
        },
        { once: true },
      );
    });
    this.loop = this.run().catch((err: unknown) => {
      deps.log.error({ queue: deps.queue, err: asError(err).message }, "amqp consumer stopped");
    });
  }

  /** Consumes on a channel; opens a new one whenever the channel or connection is lost. */
  private async run(): Promise<void> {
    const { link, queue, concurrency, log } = this.deps;
    const signal = this.stopping.signal;
    let failures = 0;
    let sessions = 0;
    while (!signal.aborted) {
      const model = await link.whenUp(undefined, signal);
      if (!model || signal.aborted) break;
      let session: Session;
      try {
        session = await this.open(model);
      } catch (err) {
        failures++;
        const retryInMs = reconnectDelay(failures);
        // While the connection is down the link says so; a start that fails
        // on a live connection (a queue declared with other arguments) is ours.
        if (link.current() === model && !signal.aborted) {
          log.warn(
            { queue, err: asError(err).message, retryInMs },
            "amqp consumer could not start; trying again",
          );
        }
        await pause(retryInMs, signal);
        continue;
      }
      sessions++;
      this.session = session;
      if (sessions > 1) log.info({ queue, concurrency }, "amqp consumer resumed");
      if (signal.aborted) break; // close() came while starting: it cancels this session
      const openedAt = Date.now();
      await Promise.race([session.closed, this.stopped]);
      if (signal.aborted) break;
      this.dropBacklog(session);
      // A channel that lasted resets the backoff; one closed again and again
      // on a live connection (an error on every start) is reopened ever slower.
      if (Date.now() - openedAt >= STABLE_SESSION_MS) failures = 0;
      if (link.current() === model) {
        failures++;
        const retryInMs = reconnectDelay(failures);
        log.warn({ queue, retryInMs }, "amqp consumer channel closed; opening a new one");
        await pause(retryInMs, signal);
      } else {
        failures = 0; // the connection was lost: the link backs off
      }
    }
  }

  private async open(model: ChannelModel): Promise<Session> {
    const { publisher, queue, concurrency, log } = this.deps;
    // No waiting for a lost connection here: run() does that, abortably.
    const names = await publisher.declare(queue, Date.now());
    const channel = await model.createChannel();
    let markClosed = (): void => undefined;
    const session: Session = {
      channel,
      open: true,
      closed: new Promise((resolve) => {
        markClosed = resolve;
      }),
      tag: "",
    };
    channel.on("close", () => {
      session.open = false;
      markClosed();
    });
    channel.on("error", (err: Error) => {
      log.warn({ queue, err: err.message }, "amqp consumer channel error");
    });
    try {
      await channel.prefetch(concurrency);
      const { consumerTag } = await channel.consume(
        names.main,
        (message) => {
          this.receive(session, message);
        },
        { noAck: false },
      );
      session.tag = consumerTag;
    } catch (err) {
      await channel.close().catch(() => undefined);
      throw err;
    }
    return session;
  }

  private receive(session: Session, message: ConsumeMessage | null): void {
    if (message === null) {
      this.deps.log.warn(
        { queue: this.deps.queue },
        "RabbitMQ cancelled the consumer (queue deleted?)",
      );
      return;
    }
    this.deps.inFlight.add(1);
    if (this.active < this.deps.concurrency) this.handle(session, message);
    else this.backlog.push({ session, message });
  }

  /** Forgets waiting messages of a closed channel: RabbitMQ requeued them. */
  private dropBacklog(session?: Session): void {
    let dropped = 0;
    for (let i = this.backlog.length - 1; i >= 0; i--) {
      if (session === undefined || this.backlog[i]?.session === session) {
        this.backlog.splice(i, 1);
        dropped++;
      }
    }
    this.deps.inFlight.add(-dropped);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stop();
      await this.loop;
      const session = this.session;
      if (session?.open) {
        try {
          await session.channel.cancel(session.tag);
        } catch {
          // The channel is already gone; its unacked messages were requeued.
        }
      }
      // Messages not yet handed to a handler go back to the queue with the channel.
      this.dropBacklog();
      await Promise.all(this.running);
      if (session?.open) await session.channel.close().catch(() => undefined);
    })();
    return this.closing;
  }

  /** For the backend's close: stop consuming at once, leaving handlers in flight alone. */
  stop(): void {
    this.stopping.abort();
  }

  /** Runs the handler on one message, then the next waiting one, if any. */
  private handle(session: Session, message: ConsumeMessage): void {
    this.active++;
    this.track(
      this.deliver(session, message).finally(() => {
        this.active--;
        this.deps.inFlight.add(-1);
        if (this.stopping.signal.aborted) return;
        const next = this.backlog.shift();
        if (next) this.handle(next.session, next.message);
      }),
    );
  }

  private deliver(session: Session, message: ConsumeMessage): Promise<void> {
    const { publisher, queue, handler, log } = this.deps;
    const fields = fieldsOf(message);
    const { id, attempt } = fields;
    const context = { queue, id, attempt };
    const actions = settleActions({ source: session, message, fields, queue, publisher, log });
    let payload: T;
    try {
      payload = JSON.parse(message.content.toString("utf8")) as T;
    } catch (err) {
      return actions
        .deadLetter(`payload is not valid JSON: ${asError(err).message}`)
        .catch((e: unknown) => {
          log.error({ ...context, err: asError(e).message }, "dead-lettering failed");
        });
    }
    const tracked = trackDelivery({ queue, id, payload, attempt }, actions);
    return runHandler(handler, tracked, log, context);
  }

  private track(work: Promise<void>): void {
    const done = work.finally(() => this.running.delete(done));
    this.running.add(done);
  }
}
