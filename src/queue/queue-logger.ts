/**
 * The slice of a pino logger the queue drivers use. Structural, so a pino
 * Logger fits without this module loading pino, and drivers log nowhere when
 * the caller passes no logger.
 */

export interface QueueLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const ignore = (): void => undefined;

export const SILENT_LOGGER: QueueLogger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};

/** `log` with `fields` (e.g. component and driver) added to every line. */
export function withFields(log: QueueLogger, fields: object): QueueLogger {
  if (log === SILENT_LOGGER) return log;
  return {
    debug: (obj, msg) => {
      log.debug({ ...fields, ...obj }, msg);
    },
    info: (obj, msg) => {
      log.info({ ...fields, ...obj }, msg);
    },
    warn: (obj, msg) => {
      log.warn({ ...fields, ...obj }, msg);
    },
    error: (obj, msg) => {
      log.error({ ...fields, ...obj }, msg);
    },
  };
}
