/** Public surface of the foundation. */
export { DEFAULTS, loadConfig, type Config } from "./config.js";
export {
  ERROR_CODES,
  asError,
  EXIT,
  GamedockError,
  errnoCode,
  fsError,
  isGamedockError,
  type ErrorCode,
} from "./errors.js";
export { Lifecycle, type ShutdownHook } from "./lifecycle.js";
export { redactUrl } from "./redact-url.js";
export { bearerToken, isKnownToken, tokenId } from "./tokens.js";
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
