/**
 * Public surface of notify: event and sink types, `createSink`, levels.
 * Each sink type is imported only when configured, so a setup without a
 * Redis sink never loads ioredis.
 */
import { checkSinkConfig } from "./check-config.js";
import type { Sink, SinkConfig } from "./contract.js";

export type { ChannelOutput, NotifyEvent, NotifyLevel, Sink, SinkConfig } from "./contract.js";
export { NOTIFY_LEVELS, shouldNotify, wantsEvent } from "./levels.js";
export { isNotifyEvent } from "./guard.js";
export { renderMarkdown, type RobotMessage } from "./markdown.js";

/** Builds the sink named `name` (`notifiers.<name>`); throws E_CONFIG on bad options. */
export async function createSink(name: string, config: SinkConfig): Promise<Sink> {
  checkSinkConfig(name, config);
  switch (config.type) {
    case "webhook": {
      const { createWebhookSink } = await import("./webhook.js");
      return createWebhookSink(name, config);
    }
    case "redis": {
      const { createRedisSink } = await import("./redis.js");
      return createRedisSink(name, config);
    }
    case "robot": {
      const { createRobotSink } = await import("./robot.js");
      return createRobotSink(name, config);
    }
  }
}
