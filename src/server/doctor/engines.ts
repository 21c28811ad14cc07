/**
 * Checks of the services the config connects to: each queue backend, the
 * Redis of the file service's tus locks, and each notifier. Queue backends
 * are opened through the queue module itself (the same connect and login
 * serve does), then closed; notifiers are only reached, never sent an event.
 */
import { redactUrl, type Logger } from "../../core/index.js";
import type { SinkConfig } from "../../notify/index.js";
import { openQueueBackend, type QueueBackendConfig } from "../../queue/index.js";
import { pass, reason, runProbe, type Check } from "./check.js";
import { writableFile } from "./paths.js";
import { endpointOf, pingRedis, reachTcp } from "./reach.js";

function serviceFix(service: string, key: string, url: string, err: unknown): string {
  const text = reason(err);
  if (/NOAUTH|WRONGPASS|ACCESS.REFUSED|refused the login|authentication/i.test(text))
    return `check the user and password in ${key}`;
  const endpoint = endpointOf(url);
  const at = endpoint ? ` at ${endpoint.host}:${endpoint.port}` : "";
  return `start ${service}${at}, or correct the host and port in ${key}`;
}

async function reachFirst(url: string, timeoutMs: number): Promise<void> {
  const endpoint = endpointOf(url);
  if (endpoint) await reachTcp(endpoint, timeoutMs);
}

export function checkQueue(
  name: string,
  config: QueueBackendConfig,
  timeoutMs: number,
  logger: Logger,
): Promise<Check> {
  const key = `queues.${name}`;
  if (config.driver === "sqlite") {
    return runProbe(
      key,
      timeoutMs,
      async () => {
        const exists = await writableFile(config.path);
        return pass(key, `sqlite ${config.path}${exists ? "" : " (created at the first start)"}`);
      },
      () => `make the directory writable for this user, or set ${key}.path (or --data)`,
    );
  }
  const service = config.driver === "redis" ? "Redis" : "RabbitMQ";
  return runProbe(
    key,
    timeoutMs,
    async () => {
      await reachFirst(config.url, timeoutMs);
      const backend = await openQueueBackend(config, {
        logger: logger.child({ component: "doctor", queue: name }),
      });
      await backend.close();
      return pass(key, `${config.driver} ${redactUrl(config.url)} answers`);
    },
    (err) => serviceFix(service, `${key}.url`, config.url, err),
    redactUrl(config.url),
  );
}

export function checkRedis(key: string, url: string, timeoutMs: number): Promise<Check> {
  return runProbe(
    key,
    timeoutMs,
    async () => {
      await reachFirst(url, timeoutMs);
      await pingRedis(url, timeoutMs);
      return pass(key, `Redis ${redactUrl(url)} answers PING`);
    },
    (err) => serviceFix("Redis", key, url, err),
    redactUrl(url),
  );
}

export function checkNotifier(name: string, config: SinkConfig, timeoutMs: number): Promise<Check> {
  const key = `notifiers.${name}`;
  if (config.type === "redis") return checkRedis(key, config.url, timeoutMs);
  return runProbe(
    key,
    timeoutMs,
    async () => {
      const endpoint = endpointOf(config.url);
      if (!endpoint) throw new Error(`${redactUrl(config.url)} names no host`);
      const where = await reachTcp(endpoint, timeoutMs);
      const what = config.type === "robot" ? `${config.kind} robot` : "webhook";
      return pass(key, `${what} host ${where} accepts connections (no event sent)`);
    },
    () => `check the host and port in ${key}.url, and that this machine may connect to it`,
    redactUrl(config.url),
  );
}
