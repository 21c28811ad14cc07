/**
 * Requests waiting for their reply, by seq. A request is either sent (on
 * the current socket) or queued (to send after the next welcome). When the
 * socket drops, a sent request's outcome is unknown — the logic worker may
 * have handled it and only the reply was lost — so it fails with
 * E_DISCONNECTED rather than being sent twice, unless the caller said it is
 * idempotent. Queued ones were never sent: they simply wait (or fail with
 * E_NOT_CONNECTED in "fail" mode).
 */
import { CLIENT_ERRORS, GamedockClientError, describe } from "./errors.js";
import { encodeRequest } from "./frames.js";
import type { WhileDisconnected } from "./types.js";

export interface PendingRequest {
  readonly seq: number;
  readonly msgId: number;
  /** The encoded frame: encoded once, at request(), so a bad body fails there. */
  readonly frame: string;
  readonly idempotent: boolean;
  sent: boolean;
}

interface Entry extends PendingRequest {
  resolve(body: unknown): void;
  reject(err: GamedockClientError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The gateway's answer to a request it refused because it is shutting down. */
const DRAINING = "E_DRAINING";

/** setTimeout's ceiling; a longer timeout means none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class RequestTable {
  /** Seqs grow over the client's life, not per socket: a late reply can never match a newer request. */
  private nextSeq = 1;
  /** Insertion order is seq order: queued requests go out in the order they were made. */
  private readonly entries = new Map<number, Entry>();

  /** Registers a request; its promise settles by reply, timeout or failure. Throws for a body JSON cannot carry. */
  add(
    msgId: number,
    body: unknown,
    timeoutMs: number,
    idempotent: boolean,
  ): { request: PendingRequest; reply: Promise<unknown> } {
    const seq = this.nextSeq++;
    let frame: string;
    try {
      frame = encodeRequest(msgId, seq, body);
    } catch (err) {
      throw new GamedockClientError(
        CLIENT_ERRORS.invalid,
        `the body of msgId ${msgId} cannot be sent as JSON: ${describe(err)}`,
        { msgId, cause: err },
      );
    }
    let entry!: Entry;
    const reply = new Promise<unknown>((resolve, reject) => {
      entry = { seq, msgId, frame, idempotent, sent: false, resolve, reject, timer: undefined };
    });
    if (Number.isFinite(timeoutMs) && timeoutMs < MAX_TIMER_MS) {
      entry.timer = setTimeout(
        () => {
          this.fail(
            entry,
            CLIENT_ERRORS.timeout,
            `no reply to msgId ${msgId} within ${timeoutMs} ms (${entry.sent ? "sent" : "never sent: no connection"})`,
          );
        },
        Math.max(0, timeoutMs),
      );
    }
    this.entries.set(seq, entry);
    return { request: entry, reply };
  }

  /** Requests not sent yet, oldest first. */
  queued(): PendingRequest[] {
    return [...this.entries.values()].filter((e) => !e.sent);
  }

  /**
   * A reply by seq; false when nothing waits for it (timed out, or from a
   * dropped socket). E_DRAINING (the gateway is stopping and did not pass
   * the request on) puts it back in the queue in "queue" mode: it was not
   * handled, so sending it again after the reconnect is safe.
   */
  settle(seq: number, code: 0 | string, body: unknown, mode: WhileDisconnected): boolean {
    const entry = this.entries.get(seq);
    if (!entry) return false;
    if (code === DRAINING && mode === "queue") {
      entry.sent = false;
      return true;
    }
    this.forget(entry);
    if (code === 0) {
      entry.resolve(body);
      return true;
    }
    const message = (body as { message?: unknown } | null)?.message;
    entry.reject(
      new GamedockClientError(
        code,
        typeof message === "string" ? message : `msgId ${entry.msgId} failed with ${code}`,
        { msgId: entry.msgId, body },
      ),
    );
    return true;
  }

  /**
   * The socket dropped. Sent requests fail with E_DISCONNECTED — or, when
   * idempotent, in "queue" mode and `resend` allows, go back to the queue.
   * In "fail" mode queued ones fail too.
   */
  disconnected(mode: WhileDisconnected, why: string, resend: boolean): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.sent) {
        if (entry.idempotent && resend && mode === "queue") {
          entry.sent = false;
          continue;
        }
        this.fail(
          entry,
          CLIENT_ERRORS.disconnected,
          `the connection dropped after msgId ${entry.msgId} was sent (${why}): it may or may not have been handled`,
        );
      } else if (mode === "fail") {
        this.fail(entry, CLIENT_ERRORS.notConnected, `msgId ${entry.msgId} was not sent: ${why}`);
      }
    }
  }

  /** Fails every request (the client stopped). */
  failAll(code: string, message: string): void {
    for (const entry of [...this.entries.values()]) this.fail(entry, code, message);
  }

  private fail(entry: Entry, code: string, message: string): void {
    if (this.entries.get(entry.seq) !== entry) return;
    this.forget(entry);
    entry.reject(new GamedockClientError(code, message, { msgId: entry.msgId }));
  }

  private forget(entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.entries.delete(entry.seq);
  }
}
