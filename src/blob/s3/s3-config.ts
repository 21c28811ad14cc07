/** Checks an s3 target's options before the first request, so a typo fails at startup, not mid-upload. */
import { GamedockError } from "../../core/index.js";
import type { BlobTargetConfig } from "../contract.js";
import { MAX_PARTS, MIN_PART_SIZE, MiB } from "./s3-target.js";

type S3Config = Extract<BlobTargetConfig, { driver: "s3" }>;

/** Parts above this would make partSize × partConcurrency an unreasonable amount of memory. */
const MAX_PART_SIZE = 5 * 1024 * MiB;

function configError(field: string, rule: string, value: unknown): GamedockError {
  const shown = field === "secretAccessKey" ? "(hidden)" : JSON.stringify(value);
  return new GamedockError("E_CONFIG", `s3 target: \`${field}\` ${rule} (got ${shown})`, { field });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

export function checkS3Config(config: S3Config): void {
  if (typeof config.endpoint !== "string" || !isHttpUrl(config.endpoint)) {
    throw configError(
      "endpoint",
      "must be an http(s) URL such as https://oss-cn-hangzhou.aliyuncs.com",
      config.endpoint,
    );
  }
  for (const field of ["region", "bucket", "accessKeyId", "secretAccessKey"] as const) {
    if (typeof config[field] !== "string" || config[field] === "") {
      throw configError(field, "must be a non-empty string", config[field]);
    }
  }
  if (typeof config.forcePathStyle !== "boolean") {
    throw configError("forcePathStyle", "must be true or false", config.forcePathStyle);
  }
  const { partSize, partConcurrency } = config;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw configError(
      "partSize",
      `must be a whole number of bytes from ${MIN_PART_SIZE} (5 MiB, S3's minimum part) to ${MAX_PART_SIZE} (5 GiB); files over ${MAX_PARTS} parts get larger parts automatically`,
      partSize,
    );
  }
  if (!Number.isSafeInteger(partConcurrency) || partConcurrency < 1 || partConcurrency > 32) {
    throw configError("partConcurrency", "must be a whole number from 1 to 32", partConcurrency);
  }
  if (
    typeof config.publicUrl !== "string" ||
    (config.publicUrl !== "" && !isHttpUrl(config.publicUrl))
  ) {
    throw configError("publicUrl", 'must be "" or an http(s) URL', config.publicUrl);
  }
}

/** The endpoint without user:password, for messages and logs. */
export function printableEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  url.username = "";
  url.password = "";
  return url.toString().replace(/\/$/, "");
}
