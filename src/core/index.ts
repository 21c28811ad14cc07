/** Public surface of the foundation: other modules import this file, never core's others. */
export { DEFAULTS, loadConfig, type Config } from "./config.js";
export { ManualClock, systemClock, type Clock } from "./clock.js";
export { directoryError, makeDirectory, makeDirectorySync, type DirectoryError } from "./dirs.js";
export {
  ERROR_CODES,
  asError,
  EXIT,
  GamedockError,
  errnoCode,
  fsError,
  isGamedockError,
  type ErrorCode,
  type GamedockErrorOptions,
} from "./errors.js";
export {
  errorAnswer,
  rawErrorResponse,
  writeErrorResponse,
  type ErrorAnswer,
  type WriteErrorOptions,
} from "./http-error.js";
export { CopyInterrupted, copier, kernelCopy, type Copier } from "./kernel-copy.js";
export { Lifecycle, type ShutdownHook } from "./lifecycle.js";
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export { enumParam, intParam, invalidField } from "./params.js";
export {
  HOST,
  PROCESS_OWNER,
  newOwnerName,
  ownerProcessState,
  parseOwner,
  processAlive,
  type ParsedOwner,
} from "./process.js";
export { redactUrl } from "./redact-url.js";
export { serviceUnavailable, withTimeout } from "./service-errors.js";
export { SseSink, writeSseHead, type SseSubscriber } from "./sse-sink.js";
export {
  claimTempPath,
  isAbandonedTemp,
  isTempName,
  releaseTemp,
  removeAbandonedTemps,
  tempOwnerPid,
} from "./temp-files.js";
export { DEFAULT_MAX_JSON_DEPTH, parseClientJson } from "./json.js";
export { codePoint, codePointLength, quoteText, textProblem } from "./text.js";
export { bearerToken, isKnownToken, tokenId } from "./tokens.js";
export { isTimeZone, zoneOffsetMs } from "./time-zone.js";
