/**
 * `gamedock token --uid U [--group G] [--ttl 1h]`: a realtime connection
 * token signed with the secret `serve` uses (realtime.jwtSecret, or the key
 * generated into the data directory), for development and scripts.
 */
import type { Command } from "commander";
import { GamedockError, createLogger } from "../../core/index.js";
import { groupFlag, nonEmptyFlag } from "../flags.js";
import { configFlags, effectiveConfig, type ProcessOptions } from "./serve.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const MAX_TTL_SECONDS = 366 * 86_400;

/** "90s", "30m", "1h", "7d" or a number of seconds → seconds. */
export function ttlFlag(value: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * UNITS[match[2] || "s"]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_TTL_SECONDS) {
    throw new GamedockError(
      "E_USAGE",
      `--ttl takes a duration from 1s to 366d such as 90s, 30m, 1h or 7d, not ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

interface TokenOptions extends ProcessOptions {
  uid: string;
  group?: string;
  ttl: number;
}

export function register(program: Command): void {
  configFlags(
    program
      .command("token")
      .summary("mint a realtime connection token (development, scripts)")
      .description(
        "Print a JWT for connecting to /ws: sub = the uid, optional group, expiring after --ttl. It is signed HS256 with realtime.jwtSecret, or with <data>/realtime.key — the key `gamedock serve` generates on first start and verifies with (this command generates it when serve has not yet). Production clients get tokens from your login service, signed with the same secret or published at realtime.jwksUrl.",
      )
      .requiredOption("--uid <uid>", "the user id (the token's sub)", nonEmptyFlag("--uid"))
      .option("--group <group>", "the logic group (default: realtime.defaultGroup)", groupFlag)
      .option("--ttl <duration>", "lifetime: 90s, 30m, 1h, 7d (default 1h)", ttlFlag, 3600),
  ).action(async (opts: TokenOptions) => {
    const config = await effectiveConfig(opts);
    const logger = await createLogger({ level: "warn", file: config.log.file || null });
    const { mintRealtimeToken } = await import("../../server/index.js");
    const token = await mintRealtimeToken(config, logger, {
      uid: opts.uid,
      ttlSeconds: opts.ttl,
      ...(opts.group === undefined ? {} : { group: opts.group }),
    });
    process.stdout.write(`${token}\n`);
  });
}
