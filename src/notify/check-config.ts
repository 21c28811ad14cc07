/**
 * Checks a sink's options before it is built, so a typo fails at start-up with
 * E_CONFIG naming the field instead of failing every send. URLs are never
 * echoed back: robot and Redis URLs carry tokens and passwords.
 */
import { GamedockError } from "../core/index.js";
import type { SinkConfig } from "./contract.js";

const ROBOT_KINDS: readonly string[] = ["dingtalk", "wecom", "feishu"];

export function checkSinkConfig(name: string, config: SinkConfig): void {
  const field = (key: string): string => `notifiers.${name}.${key}`;
  const bad = (key: string, what: string): GamedockError =>
    new GamedockError("E_CONFIG", `${field(key)} ${what}`, { sink: name, field: field(key) });

  switch (config.type) {
    case "webhook":
    case "robot": {
      if (!hasProtocol(config.url, ["http:", "https:"])) throw bad("url", "must be an http(s) URL");
      if (config.type === "robot" && !ROBOT_KINDS.includes(config.kind)) {
        throw bad("kind", `must be one of ${ROBOT_KINDS.join(", ")}`);
      }
      if (!(Number.isFinite(config.timeoutMs) && config.timeoutMs > 0)) {
        throw bad("timeoutMs", "must be a positive number of milliseconds");
      }
      if (!(Number.isInteger(config.retries) && config.retries >= 0)) {
        throw bad("retries", "must be a whole number ≥ 0");
      }
      if (!(Number.isFinite(config.backoffMs) && config.backoffMs >= 0)) {
        throw bad("backoffMs", "must be a number of milliseconds ≥ 0");
      }
      return;
    }
    case "redis": {
      if (!hasProtocol(config.url, ["redis:", "rediss:"])) {
        throw bad("url", "must be a redis:// or rediss:// URL");
      }
      if (config.list === "") throw bad("list", "must name a Redis list key");
      return;
    }
    default: {
      const type: unknown = (config as { type: unknown }).type;
      throw new GamedockError(
        "E_CONFIG",
        `notifiers.${name}.type must be webhook, redis or robot, not ${JSON.stringify(type)}`,
        { sink: name, field: `notifiers.${name}.type` },
      );
    }
  }
}

function hasProtocol(url: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}
