/**
 * Chat-robot sink: posts a short markdown message to a group robot of
 * DingTalk (钉钉), WeCom (企业微信) or Feishu (飞书).
 *
 * Robots answer HTTP 200 with an error code in the JSON body, so delivery is
 * decided from that code: 0 is delivered, a rate limit or "system busy" is
 * retried, anything else (bad signature, keyword check, robot disabled,
 * malformed message) is permanent. Formats and signing follow each vendor's
 * custom-robot documentation; docs/notifications.md cites them.
 */
import { createHmac } from "node:crypto";
import type { NotifyEvent, Sink, SinkConfig } from "./contract.js";
import { judgeHttpStatus, oneLine, postWithRetries, type Verdict } from "./http-post.js";
import { renderMarkdown, truncateUtf8 } from "./markdown.js";

export type RobotConfig = Extract<SinkConfig, { type: "robot" }>;
type Kind = RobotConfig["kind"];

/** Codes that mean "slow down" or "busy": worth another attempt later. */
const RETRYABLE_CODES: Record<Kind, ReadonlySet<number>> = {
  // -1 system busy; 130101 and 410100 sending too fast; 90030 webhook call quota reached.
  dingtalk: new Set([-1, 130101, 410100, 90030]),
  // -1 system busy; 45009 API call frequency limit; 45033 too many concurrent calls.
  wecom: new Set([-1, 45009, 45033]),
  // 11232 message frequency limit; 230020 per-chat rate limit.
  feishu: new Set([11232, 230020]),
};

/** WeCom refuses markdown content over 4096 bytes. */
const WECOM_MAX_BYTES = 4096;

/** DingTalk: base64(HMAC-SHA256(key = secret, data = timestamp + "\n" + secret)), timestamp in ms. */
export function dingtalkSign(secret: string, timestampMs: string): string {
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`, "utf8").digest("base64");
}

/** Feishu: base64(HMAC-SHA256(key = timestamp + "\n" + secret, data = "")), timestamp in s. */
export function feishuSign(secret: string, timestampSec: string): string {
  return createHmac("sha256", `${timestampSec}\n${secret}`).update("").digest("base64");
}

export function createRobotSink(name: string, config: RobotConfig): Sink {
  return {
    name,
    async send(event: NotifyEvent): Promise<void> {
      await postWithRetries({
        sink: name,
        url: config.url,
        timeoutMs: config.timeoutMs,
        retries: config.retries,
        backoffMs: config.backoffMs,
        build: () => ({
          url: robotUrl(config),
          headers: { "content-type": "application/json; charset=utf-8", "user-agent": "gamedock" },
          body: JSON.stringify(robotPayload(config, event)),
        }),
        judge: (status, answer) => judgeRobotAnswer(config.kind, status, answer),
      });
    },
    close: () => Promise.resolve(),
  };
}

/** DingTalk signs in the query string; the others take the configured URL as is. */
function robotUrl(config: RobotConfig): string {
  if (config.kind !== "dingtalk" || config.secret === "") return config.url;
  const url = new URL(config.url);
  const timestamp = String(Date.now());
  // searchParams URL-encodes the base64 ("+", "/", "=") as DingTalk requires.
  url.searchParams.set("timestamp", timestamp);
  url.searchParams.set("sign", dingtalkSign(config.secret, timestamp));
  return url.toString();
}

export function robotPayload(config: RobotConfig, event: NotifyEvent): Record<string, unknown> {
  switch (config.kind) {
    case "dingtalk": {
      const message = renderMarkdown(event);
      return { msgtype: "markdown", markdown: { title: message.title, text: message.text } };
    }
    case "wecom": {
      const message = renderMarkdown(event);
      return {
        msgtype: "markdown",
        markdown: { content: truncateUtf8(message.text, WECOM_MAX_BYTES) },
      };
    }
    case "feishu": {
      const message = renderMarkdown(event, { code: false });
      const template = { success: "green", warning: "orange", failure: "red" }[message.tone];
      const card = {
        config: { wide_screen_mode: true },
        header: { title: { tag: "plain_text", content: message.title }, template },
        elements: [{ tag: "markdown", content: message.body }],
      };
      if (config.secret === "") return { msg_type: "interactive", card };
      const timestamp = String(Math.floor(Date.now() / 1000));
      return {
        timestamp,
        sign: feishuSign(config.secret, timestamp),
        msg_type: "interactive",
        card,
      };
    }
  }
}

export function judgeRobotAnswer(kind: Kind, status: number, answer: string): Verdict {
  const parsed = parseAnswer(kind, answer);
  if (parsed === undefined) {
    const byStatus = judgeHttpStatus(status, answer);
    if (!byStatus.ok) return byStatus;
    // A 2xx page without the robot's code is not a robot (wrong URL, a proxy's page).
    return {
      ok: false,
      retryable: false,
      reason: `HTTP ${status} without a ${kind} robot answer (${oneLine(answer, 120)}); check the URL`,
    };
  }
  if (parsed.code === 0) return judgeHttpStatus(status, answer);
  const retryable = RETRYABLE_CODES[kind].has(parsed.code) || status === 429 || status >= 500;
  return {
    ok: false,
    retryable,
    reason: `${kind} error ${parsed.code}: ${oneLine(parsed.message, 200)}`,
    extra: { errcode: parsed.code },
  };
}

/** The robot's result code and message, if the answer is the robot's JSON. */
function parseAnswer(kind: Kind, answer: string): { code: number; message: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(answer);
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const fields = json as Record<string, unknown>;
  // Feishu answers {code, msg}; older Feishu hooks answered {StatusCode, StatusMessage}.
  const code = kind === "feishu" ? (fields.code ?? fields.StatusCode) : fields.errcode;
  if (typeof code !== "number") return undefined;
  const message = kind === "feishu" ? (fields.msg ?? fields.StatusMessage) : fields.errmsg;
  return { code, message: typeof message === "string" ? message : "" };
}
