/**
 * pino, one JSON line per event (ELK-ready), to stderr or a file. Secrets never
 * reach the log: known secret fields are redacted wherever they appear.
 */
import { dirname } from "node:path";
import type { Logger, LevelWithSilent } from "pino";
import { directoryError, makeDirectorySync } from "./dirs.js";

export type { Logger };

export const REDACT_PATHS = [
  "token",
  "*.token",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "accessKeyId",
  "*.accessKeyId",
  "secretAccessKey",
  "*.secretAccessKey",
  "apiV3Key",
  "*.apiV3Key",
  "authorization",
  "*.authorization",
  "headers.authorization",
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Append JSON lines to this file instead of stderr. */
  file?: string | null;
}

/** pino is imported on first use, so commands that never log do not pay for loading it. */
export async function createLogger(options: LoggerOptions = {}): Promise<Logger> {
  const { pino } = await import("pino");
  const level = options.level ?? "info";
  const redact = { paths: REDACT_PATHS, censor: "[redacted]" };
  // Field names Elasticsearch/Kibana (ECS) read without a mapping: an ISO
  // @timestamp, the level as a word, the text under "message".
  const elk = {
    messageKey: "message",
    timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.file) {
    // Level by level: pino's own mkdir is recursive, which spins under /proc.
    makeDirectorySync(
      dirname(options.file),
      directoryError("directory of the log file (log.file)"),
    );
    return pino(
      { level, redact, base: { pid: process.pid }, ...elk },
      pino.destination({ dest: options.file, mkdir: true, sync: false }),
    );
  }
  return pino(
    { level, redact, base: { pid: process.pid }, ...elk },
    pino.destination({ dest: 2, sync: true }),
  );
}
