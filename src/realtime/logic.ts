/**
 * A logic worker: reads its group's request stream (`c2l`) as consumer group
 * "logic", runs the handler of each request's msgId, writes the reply to the
 * gateway's stream, then acknowledges.
 *
 * Exactly one reply per request, even when a worker dies mid-way: the reply
 * is appended together with a marker named by the request (`appendOnceMany`,
 * one script in the gateway's hash tag), and the request is acknowledged
 * after. A worker that dies before the reply leaves the request pending:
 * after `claimIdleMs` another worker claims it and runs the handler again
 * (same `ctx.messageId`). One that dies between the reply and the
 * acknowledgement leaves the marker: the claimer sees it and only
 * acknowledges.
 *
 * Replies and acknowledgements finished in one event-loop turn go out
 * together (`TurnBatch`): under load a few commands carry many requests.
 */
import { isGamedockError } from "../core/index.js";
import {
  busKeys,
  TurnBatch,
  type Bus,
  type BusEntry,
  type BusReader,
  type OnceItem,
} from "../bus/index.js";
import { decodeRequest, encodeEnvelope, type RequestEnvelope } from "./envelope.js";
import { logicPresence } from "./names.js";
import type { AppGroups } from "./groups.js";
import type { HandlerContext, HandlerLog, HandlerRoute } from "./handlers.js";
import type { ReplyHead } from "./protocol.js";
import type { Pusher } from "./push.js";

export const LOGIC_GROUP = "logic";

export interface LogicWorkerOptions {
  bus: Bus;
  /** The logic group whose requests this worker takes. */
  group: string;
  /** Unique among the group's workers (host/pid/nonce). */
  consumer: string;
  handlers: ReadonlyMap<number, HandlerRoute>;
  concurrency: number;
  handlerTimeoutMs: number;
  claimIdleMs: number;
  /** The worker's presence entry lives this long unless refreshed (consumers not present are removed). */
  presenceTtlMs: number;
  /** What `ctx.push` sends with. */
  pusher: Pusher;
  /** What `ctx.groups` changes. */
  groups: AppGroups;
  log: HandlerLog;
}

/**
 * How long a reply's marker lives: long past the redelivery of a request
 * whose worker died after replying (claimed after claimIdleMs), yet short
 * enough that markers of a busy group do not pile up in Redis (one per
 * request: at 5,000 requests/s, ten minutes of them held ~700 MB).
 */
const markerTtlMs = (claimIdleMs: number): number => Math.max(60_000, 4 * claimIdleMs);
const READ_BLOCK_MS = 1000;

interface Outcome {
  code: 0 | string;
  body: unknown;
}

export class LogicWorker {
  private reader: BusReader | null = null;
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | null = null;
  private claimTimer: NodeJS.Timeout | null = null;
  private handledSinceTrim = 0;
  /** Set while the read loop waits for a free slot. */
  private slotFreed: (() => void) | null = null;

  /**
   * Replies finished in one event-loop turn go to each gateway's stream in
   * one call, and their requests are acknowledged in one call after: one
   * Redis command per turn and gateway instead of two per request.
   */
  private readonly replies: TurnBatch<string, OnceItem, string | null>;
  private readonly acks: TurnBatch<string, string, undefined>;

  constructor(private readonly options: LogicWorkerOptions) {
    const { bus, claimIdleMs } = options;
    this.replies = new TurnBatch((stream, items) =>
      bus.appendOnceMany(stream, items, markerTtlMs(claimIdleMs)),
    );
    this.acks = new TurnBatch(async (stream, ids) => {
      await bus.ack(stream, LOGIC_GROUP, ids);
      return ids.map(() => undefined);
    });
  }

  private get stream(): string {
    return busKeys.requests(this.options.group);
  }

  async start(): Promise<void> {
    this.reader = await this.options.bus.reader();
    // "begin": requests sent before any worker of the group existed are handled too.
    await this.reader.join(this.stream, LOGIC_GROUP, "begin");
    await this.announce();
    await this.options.bus.addMember(busKeys.logicGroups(), this.options.group);
    this.loop = this.readLoop(this.reader);
    // Often enough to claim what a dead worker left, and to refresh this
    // worker's presence before it expires (a third of its lifetime).
    const { claimIdleMs, presenceTtlMs } = this.options;
    const every = Math.max(100, Math.floor(Math.min(claimIdleMs / 2, presenceTtlMs / 3)));
    this.claimTimer = setInterval(() => void this.claimAbandoned(), every);
  }

  /** Stops reading, lets the handlers in flight finish and reply. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.claimTimer) clearInterval(this.claimTimer);
    await this.reader?.close();
    await this.loop;
    await Promise.all(this.inFlight);
    // Everything it took is acknowledged: it leaves no consumer behind.
    const { bus, group, consumer } = this.options;
    await bus.leavePresence(logicPresence(group), consumer).catch(() => undefined);
    await bus.removeConsumer(this.stream, LOGIC_GROUP, consumer).catch(() => undefined);
  }

  /** Tells the group's other workers (and the operations API) this one is alive. */
  private async announce(): Promise<void> {
    const { bus, group, consumer, presenceTtlMs } = this.options;
    await bus.touchPresence([logicPresence(group)], consumer, presenceTtlMs);
  }

  /**
   * Forgets the consumers of workers that died once nothing is pending for
   * them any more (claimAbandoned took it): a worker killed with SIGKILL
   * would otherwise stay listed for ever.
   */
  private async removeDeadConsumers(): Promise<void> {
    const { bus, group, consumer, log } = this.options;
    const info = (await bus.groups(this.stream)).find((g) => g.name === LOGIC_GROUP);
    if (!info) return;
    const alive = new Set(
      (await bus.presence([logicPresence(group)])).get(logicPresence(group)) ?? [],
    );
    for (const dead of info.consumers) {
      if (dead.name === consumer || alive.has(dead.name) || dead.pending > 0) continue;
      if (dead.idleMs < this.options.presenceTtlMs) continue;
      await bus.removeConsumer(this.stream, LOGIC_GROUP, dead.name);
      log.info({ event: "consumer-removed", group, consumer: dead.name }, "forgot a dead worker");
    }
  }

  private async readLoop(reader: BusReader): Promise<void> {
    while (!this.stopping) {
      const free = this.options.concurrency - this.inFlight.size;
      if (free <= 0) {
        // One waiter woken by the next handler to finish (not a race over all of them).
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      let entries: BusEntry[];
      try {
        entries = await reader.read(this.stream, LOGIC_GROUP, this.options.consumer, {
          count: free,
          blockMs: READ_BLOCK_MS,
        });
      } catch (err) {
        if (this.stopping) return;
        this.options.log.error(
          { err, group: this.options.group },
          "reading requests failed; retrying",
        );
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const entry of entries) this.track(entry);
    }
  }

  private async claimAbandoned(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.announce();
      await this.removeDeadConsumers();
      // Handled requests are not needed any more: the stream keeps only what is unacknowledged.
      if (this.handledSinceTrim > 0) {
        this.handledSinceTrim = 0;
        await this.options.bus.trimAcknowledged(this.stream);
      }
    } catch (err) {
      this.options.log.warn({ err, group: this.options.group }, "refreshing presence failed");
    }
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0) return;
    try {
      const claimed = await this.options.bus.claimIdle(
        this.stream,
        LOGIC_GROUP,
        this.options.consumer,
        {
          minIdleMs: this.options.claimIdleMs,
          count: free,
        },
      );
      if (claimed.length > 0) {
        this.options.log.info(
          { event: "requests-claimed", group: this.options.group, count: claimed.length },
          "took over requests a stopped worker held",
        );
      }
      for (const entry of claimed) this.track(entry);
    } catch (err) {
      this.options.log.warn(
        { err, group: this.options.group },
        "claiming abandoned requests failed",
      );
    }
  }

  private track(entry: BusEntry): void {
    const work = this.handle(entry)
      .catch((err: unknown) => {
        // Not acknowledged: the request stays pending and is claimed again later.
        this.options.log.error(
          { err, entryId: entry.id },
          "request not settled; it will be retried",
        );
      })
      .finally(() => {
        this.inFlight.delete(work);
        const wake = this.slotFreed;
        this.slotFreed = null;
        wake?.();
      });
    this.inFlight.add(work);
  }

  private async handle(entry: BusEntry): Promise<void> {
    const { bus, group } = this.options;
    let request: RequestEnvelope;
    try {
      request = decodeRequest(entry.payload);
    } catch (err) {
      this.options.log.error({ err, entryId: entry.id }, "undecodable request dropped");
      await this.acks.add(this.stream, entry.id);
      return;
    }
    const messageId = `${group}:${entry.id}`;
    const gatewayStream = busKeys.gatewayStream(request.head.gatewayId);
    const marker = busKeys.replied(request.head.gatewayId, messageId);
    if (!(entry.redelivered && (await bus.marked(marker)))) {
      const outcome = await this.run(request, messageId, entry.redelivered);
      const head: ReplyHead = {
        msgId: request.head.msgId,
        seq: request.head.seq,
        code: outcome.code,
      };
      const reply = encodeEnvelope({
        kind: "reply",
        connId: request.head.connId,
        head,
        body: outcome.body,
      });
      await this.replies.add(gatewayStream, { payload: reply, marker });
    }
    // After the reply is on the bus: a worker that dies before this leaves the request pending.
    await this.acks.add(this.stream, entry.id);
    this.handledSinceTrim += 1;
  }

  private async run(
    request: RequestEnvelope,
    messageId: string,
    redelivered: boolean,
  ): Promise<Outcome> {
    const { head, body } = request;
    const route = this.options.handlers.get(head.msgId);
    if (!route) {
      return error(
        "E_UNKNOWN_MSG",
        `no handler for msgId ${head.msgId} in group ${this.options.group}`,
      );
    }
    const abort = new AbortController();
    const log = this.options.log;
    const ctx: HandlerContext = {
      uid: head.uid,
      group: this.options.group,
      msgId: head.msgId,
      messageId,
      redelivered,
      connId: head.connId,
      gatewayId: head.gatewayId,
      ip: head.ip,
      signal: abort.signal,
      log,
      push: (to, msgId, pushBody, options) =>
        this.options.pusher.push(to, msgId, pushBody, options),
      groups: this.options.groups,
      services: route.services,
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve(
          error(
            "E_TIMEOUT",
            `the handler of msgId ${head.msgId} ran past ${this.options.handlerTimeoutMs} ms`,
          ),
        );
      }, this.options.handlerTimeoutMs);
    });
    const ran = (async (): Promise<Outcome> => ({
      code: 0,
      body: (await route.handler(ctx, body)) ?? null,
    }))().catch((err: unknown): Outcome => {
      if (isGamedockError(err)) return error(err.code, err.message);
      log.error({ err, msgId: head.msgId, messageId }, "handler failed");
      return error("E_HANDLER", `the handler of msgId ${head.msgId} failed`);
    });
    try {
      return await Promise.race([ran, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function error(code: string, message: string): Outcome {
  return { code, body: { message } };
}
