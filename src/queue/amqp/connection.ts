/**
 * The one RabbitMQ connection of an amqp backend, kept alive. When it is lost
 * (the server closed it, the broker restarted, the network failed) amqplib's
 * recovery reconnects with exponential backoff and jitter, 100 ms doubling up
 * to 10 s, for as long as it takes, until close().
 *
 * Everyone else asks this link for the live connection instead of holding
 * one: calls that owe their caller an answer (enqueue, admin calls) wait for a
 * lost connection up to `waitMs` and then fail with a retryable
 * E_SERVICE_UNAVAILABLE; consumers wait as long as it takes and resume on the
 * new connection (consumer.ts).
 *
 * The connection carries a `connection_name` client property,
 * "gamedock queue <host>/<pid>/<token> prefix=<prefix>", so an operator (or a
 * test) can tell it apart in `rabbitmqctl list_connections` and the
 * management UI.
 */
import { EventEmitter } from "node:events";
import { connect, type ChannelModel, type RecoveringChannelModel } from "amqplib";
import { GamedockError, asError, newOwnerName } from "../../core/index.js";
import type { QueueLogger } from "../queue-logger.js";
import { redactUrl, serviceUnavailable } from "../service-errors.js";

const CONNECT_TIMEOUT_MS = 5000;
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;
/** Delays are spread down to 70 % of their step, so many clients do not come back in step. */
const JITTER = 0.3;

/**
 * Pause before the `failures`-th attempt to reconnect (or to reopen a
 * channel): 100 ms doubling per failure up to 10 s, jittered downwards only so
 * the bound holds.
 */
export function reconnectDelay(failures: number, random: () => number = Math.random): number {
  const step = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(step * (1 - JITTER * random()));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

export interface LinkOptions {
  url: string;
  /** The backend's queue-name prefix; part of the connection name. */
  prefix: string;
  /** How long calls that must answer wait for a lost connection to come back (ms). */
  waitMs: number;
  log: QueueLogger;
}

export function closedError(): GamedockError {
  return new GamedockError("E_INTERNAL", "the amqp queue backend is closed");
}

export class AmqpLink {
  private model: ChannelModel | undefined;
  private closed = false;
  private connectedOnce = false;
  private lostAt: number | undefined;
  private lastError = "";
  /** Emits "change" whenever the connection comes, goes, or the link closes. */
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private readonly safeUrl: string;

  private constructor(
    private readonly recovering: RecoveringChannelModel,
    private readonly options: LinkOptions,
    /** The connection_name RabbitMQ shows for this connection. */
    readonly name: string,
  ) {
    this.safeUrl = redactUrl(options.url);
    this.listen();
  }

  /**
   * Connects once, failing at once if the broker does not answer (a wrong URL
   * should stop a server from starting, not hang it); reconnects forever after.
   */
  static async open(options: LinkOptions): Promise<AmqpLink> {
    const name = `gamedock queue ${newOwnerName()} prefix=${options.prefix}`;
    // waitForConnect: false resolves before the first attempt, so the link's
    // listeners see that attempt's "connect" event.
    const recovering = await connect(options.url, {
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: name },
      recovery: {
        waitForConnect: false,
        initialMaxRetries: 0,
        calculateDelay: (attempt) => reconnectDelay(attempt),
      },
    });
    const link = new AmqpLink(recovering, options, name);
    try {
      await recovering.waitForConnect();
    } catch (err) {
      await link.close();
      throw connectError(options.url, err);
    }
    return link;
  }

  get waitMs(): number {
    return this.options.waitMs;
  }

  /** The live connection, if there is one right now. */
  current(): ChannelModel | undefined {
    return this.model;
  }

  /**
   * The live connection, waiting while it is being re-established until
   * `deadline` (epoch ms; none: no limit) or until `signal` aborts. Undefined
   * when none came in time or the link was closed.
   */
  whenUp(deadline?: number, signal?: AbortSignal): Promise<ChannelModel | undefined> {
    if (this.model || this.closed || signal?.aborted) return Promise.resolve(this.model);
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.changes.off("change", check);
        signal?.removeEventListener("abort", finish);
        resolve(this.model);
      };
      const check = (): void => {
        if (this.model || this.closed) finish();
      };
      const timer =
        deadline === undefined ? undefined : setTimeout(finish, Math.max(0, deadline - Date.now()));
      this.changes.on("change", check);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }

  /**
   * The live connection; during an outage, waits until `deadline` (default:
   * `waitMs` from now), then fails with a retryable E_SERVICE_UNAVAILABLE.
   */
  async ready(deadline: number = Date.now() + this.options.waitMs): Promise<ChannelModel> {
    const model = await this.whenUp(deadline);
    if (model) return model;
    throw this.closed ? closedError() : this.unavailable();
  }

  /** Why a call gave up waiting: the broker (without its password), for how long, the last error. */
  unavailable(): GamedockError {
    const lost = this.lostAt === undefined ? 0 : Date.now() - this.lostAt;
    return serviceUnavailable(
      "RabbitMQ",
      this.options.url,
      new Error(
        `the connection was lost ${lost} ms ago and did not come back within ${this.options.waitMs} ms` +
          (this.lastError ? ` (last error: ${this.lastError})` : ""),
      ),
    );
  }

  /** Stops reconnecting and closes the connection; waiting calls fail at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.model = undefined;
    this.changes.emit("change");
    await this.recovering.close().catch(() => undefined);
  }

  private listen(): void {
    const { log } = this.options;
    const url = this.safeUrl;
    const name = this.name;
    this.recovering.on("connect", (model: ChannelModel) => {
      if (this.closed) return;
      this.model = model;
      if (this.connectedOnce) {
        const downMs = this.lostAt === undefined ? 0 : Date.now() - this.lostAt;
        log.info({ url, connection: name, downMs }, "amqp connection restored; consumers resume");
      }
      this.connectedOnce = true;
      this.lostAt = undefined;
      this.changes.emit("change");
    });
    this.recovering.on("disconnect", (err: Error) => {
      this.model = undefined;
      this.lostAt = Date.now();
      this.lastError = this.safe(err);
      log.warn(
        { url, connection: name, err: this.lastError },
        "amqp connection lost; reconnecting (deliveries in flight will be delivered again)",
      );
      this.changes.emit("change");
    });
    this.recovering.on(
      "reconnect-scheduled",
      (info: { attempt: number; delay: number; error: Error }) => {
        this.lastError = this.safe(info.error);
        // The first one follows the "connection lost" line, which says it all.
        if (!this.connectedOnce || info.attempt === 1) return;
        log.warn(
          {
            url,
            connection: name,
            attempt: info.attempt,
            retryInMs: info.delay,
            err: this.lastError,
          },
          "amqp reconnect failed; trying again",
        );
      },
    );
    this.recovering.on("reconnect-failed", (err: Error) => {
      if (this.connectedOnce) {
        log.error({ url, connection: name, err: this.safe(err) }, "amqp reconnecting gave up");
      }
    });
    this.recovering.on("blocked", (reason: string) => {
      log.warn({ url, connection: name, reason }, "RabbitMQ blocked publishing (resource alarm)");
    });
    this.recovering.on("unblocked", () => {
      log.info({ url, connection: name }, "RabbitMQ unblocked publishing");
    });
    // Without a listener an "error" event would crash the process; the
    // "disconnect" that follows is what matters.
    this.recovering.on("error", (err: Error) => {
      log.debug({ url, connection: name, err: this.safe(err) }, "amqp connection error");
    });
  }

  /** An error's message, never with the password of the URL in it. */
  private safe(err: unknown): string {
    return asError(err).message.split(this.options.url).join(this.safeUrl);
  }
}

function connectError(url: string, err: unknown): GamedockError {
  if (/ACCESS.REFUSED/.test(asError(err).message)) {
    return new GamedockError(
      "E_CONFIG",
      `RabbitMQ at ${redactUrl(url)} refused the login: check the user and password in the queue url`,
      { url: redactUrl(url) },
    );
  }
  return serviceUnavailable("RabbitMQ", url, err);
}
