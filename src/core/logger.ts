/**
 * pino, one JSON line per event (ELK-ready). Humans get pino-pretty when the
 * destination is a TTY. Secrets never reach the log: known secret fields are
 * redacted wherever they appear.
 */
import { pino, type Logger, type LevelWithSilent } from "pino";

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
  "authorization",
  "*.authorization",
  "headers.authorization",
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Append JSON lines to this file instead of stderr. */
  file?: string | null;
  /** Pretty-print (for a human at a terminal). */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const redact = { paths: REDACT_PATHS, censor: "[redacted]" };
  if (options.file) {
    return pino(
      { level, redact, base: { pid: process.pid } },
      pino.destination({ dest: options.file, mkdir: true, sync: false }),
    );
  }
  if (options.pretty) {
    return pino({
      level,
      redact,
      transport: { target: "pino-pretty", options: { destination: 2, colorize: true } },
    });
  }
  return pino(
    { level, redact, base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  );
}
