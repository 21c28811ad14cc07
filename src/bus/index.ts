/**
 * Public surface of the bus: the contract, the key names with their hash
 * tags, and a loader that opens a driver by name. The Redis driver is
 * imported on demand, so the embedded default never loads ioredis.
 */
import { GamedockError } from "../core/index.js";
import type { Bus, BusConfig } from "./contract.js";
import type { BusLogger } from "./redis/bus.js";

export type {
  Bus,
  BusConfig,
  BusDriverName,
  BusEntry,
  BusReader,
  ClaimOptions,
  ConsumerInfo,
  GroupInfo,
  History,
  HistoryEntry,
  HistoryLimits,
  HistoryPosition,
  HistoryRead,
  OnceItem,
  ReadOptions,
} from "./contract.js";
export type { BusLogger } from "./redis/bus.js";
export { busKeys, hashTag, keySlot } from "./keys.js";
export { TurnBatch } from "./turn-batch.js";

const SILENT: BusLogger = { warn: () => undefined };

/**
 * Opens a bus. E_CONFIG for a bad config, E_SERVICE_UNAVAILABLE when Redis
 * does not answer. Pass `logger.child({ component: "bus" })` to see
 * connection trouble.
 */
export async function openBus(
  config: BusConfig,
  options: { logger?: BusLogger } = {},
): Promise<Bus> {
  switch (config.driver) {
    case "memory": {
      const { openMemoryBus } = await import("./memory/bus.js");
      return openMemoryBus();
    }
    case "redis": {
      const { openRedisBus } = await import("./redis/bus.js");
      return openRedisBus(config, options.logger ?? SILENT);
    }
    default: {
      const driver = (config as { driver?: unknown }).driver;
      throw new GamedockError(
        "E_CONFIG",
        `unknown bus driver ${JSON.stringify(driver)}: use "memory" or "redis"`,
      );
    }
  }
}
