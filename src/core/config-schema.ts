/**
 * The zod schema of the configuration. Loaded only when something overrides
 * the defaults (zod costs ~60 ms of start-up; a plain `gamedock pack` needs none).
 */
import { z } from "zod";

export const configSchema = z
  .object({
    data: z.string().min(1),
    server: z
      .object({
        host: z.string().min(1),
        port: z.coerce.number().int().min(0).max(65535),
      })
      .strict(),
    log: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
        file: z.string(),
      })
      .strict(),
    pack: z
      .object({
        concurrency: z.coerce.number().int().min(1).max(64),
        format: z.enum(["walle", "vasdolly", "both"]),
        v1Style: z.enum(["comment", "meta-inf"]),
        nameTemplate: z.string().min(1),
      })
      .strict(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
