/**
 * One zod schema for the whole configuration. Defaults live in one object;
 * a JSON config file overrides them; GAMEDOCK_* environment variables override
 * the file (GAMEDOCK_PACK_CONCURRENCY=4 sets pack.concurrency).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { GamedockError, fsError } from "./errors.js";

export const DEFAULTS = {
  /** Directory for embedded state (SQLite, blobs, packages). */
  data: "./gamedock-data",
  server: {
    host: "127.0.0.1",
    port: 8080, // TCP port
  },
  log: {
    level: "info" as "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent",
    /** Append JSON log lines to this file; empty means stderr. */
    file: "",
  },
  pack: {
    concurrency: 2, // children written at once
    format: "walle" as "walle" | "vasdolly" | "both",
    v1Style: "comment" as "comment" | "meta-inf",
    nameTemplate: "{package}-{versionName}-{channel}.apk",
  },
};

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

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function merge(base: Plain, override: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? merge(current, value) : value;
  }
  return out;
}

/** GAMEDOCK_SERVER_PORT → server.port, matching the keys that exist in DEFAULTS. */
function fromEnv(env: NodeJS.ProcessEnv, shape: Plain, prefix = "GAMEDOCK"): Plain {
  const out: Plain = {};
  for (const [key, value] of Object.entries(shape)) {
    const name = `${prefix}_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    if (isPlain(value)) {
      const nested = fromEnv(env, value, name);
      if (Object.keys(nested).length > 0) out[key] = nested;
    } else if (env[name] !== undefined) {
      out[key] = env[name];
    }
  }
  return out;
}

export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  let fromFile: Plain = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, "utf8");
    } catch (err) {
      throw fsError(err, options.file, "config file");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new GamedockError(
        "E_CONFIG",
        `config file ${options.file} is not valid JSON: ${(err as Error).message}`,
      );
    }
    if (!isPlain(parsed)) {
      throw new GamedockError("E_CONFIG", `config file ${options.file} must hold a JSON object`);
    }
    fromFile = parsed;
  }
  const merged = merge(merge(DEFAULTS, fromFile), fromEnv(options.env ?? process.env, DEFAULTS));
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue ? issue.path.join(".") : "?";
    throw new GamedockError(
      "E_CONFIG",
      `invalid configuration at ${field}: ${issue?.message ?? "invalid"} (from ${options.file ?? "defaults"} and GAMEDOCK_* environment variables)`,
      { field },
    );
  }
  return result.data;
}
