/**
 * Webhook sink: POSTs the event as JSON to the game server (or any receiver).
 *
 * Every request carries the event type, the event's idempotency key (the same
 * on every repeat of the event, so receivers dedupe) and a timestamp. With a
 * secret, it is signed: X-Gamedock-Signature is
 * "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), where body is the
 * exact bytes sent. Signing the timestamp lets receivers refuse old replays.
 *
 * HTTP header values are bytes, not Unicode, and event ids hold channel names
 * (often Chinese), so the Idempotency-Key is the id with every character
 * outside printable ASCII, and "%", percent-encoded as UTF-8:
 * decodeURIComponent(header) === event.id, and ASCII ids pass unchanged.
 */
import { createHmac } from "node:crypto";
import type { NotifyEvent, Sink, SinkConfig } from "./contract.js";
import { judgeHttpStatus, postWithRetries } from "./http-post.js";

export type WebhookConfig = Extract<SinkConfig, { type: "webhook" }>;

/** hex HMAC-SHA256 over `${timestamp}.${body}`, the value after "sha256=". */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
}

/** The event id as a header value; see the file comment. */
export function idempotencyKey(id: string): string {
  return id.replace(/[^\x20-\x24\x26-\x7e]/gu, (ch) => encodeURIComponent(ch));
}

export function createWebhookSink(name: string, config: WebhookConfig): Sink {
  return {
    name,
    async send(event: NotifyEvent): Promise<void> {
      const body = JSON.stringify(event);
      await postWithRetries({
        sink: name,
        url: config.url,
        timeoutMs: config.timeoutMs,
        retries: config.retries,
        backoffMs: config.backoffMs,
        judge: judgeHttpStatus,
        build: () => {
          const timestamp = String(Math.floor(Date.now() / 1000));
          const headers: Record<string, string> = {
            "content-type": "application/json",
            "user-agent": "gamedock",
            "x-gamedock-event": event.type,
            "idempotency-key": idempotencyKey(event.id),
            "x-gamedock-timestamp": timestamp,
          };
          if (config.secret !== "") {
            headers["x-gamedock-signature"] =
              `sha256=${webhookSignature(config.secret, timestamp, body)}`;
          }
          return { url: config.url, headers, body };
        },
      });
    },
    close: () => Promise.resolve(),
  };
}
