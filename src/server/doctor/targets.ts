/**
 * Upload targets: each gets a write / read / delete round trip of a small
 * object under `gamedock/doctor/`, the area gamedock reserves for itself
 * (src/blob/reserved.ts), so no user key can collide with the probe, and
 * the store's compose probe (a one-byte server-side copy, aborted), whose
 * answer the check reports. An fs
 * target's root is checked before the store is opened: opening creates it,
 * and a root that cannot be created must fail the check, not hang it.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { openBlobStore, type BlobTargetConfig } from "../../blob/index.js";
import { pass, reason, runProbe, type Check } from "./check.js";
import { writableDir } from "./paths.js";
import { endpointOf, reachTcp } from "./reach.js";

/** The round trip; then whether the store copies server-side (compose), as one phrase. */
async function roundTrip(config: BlobTargetConfig): Promise<string> {
  const store = await openBlobStore(config);
  const key = `gamedock/doctor/${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  const payload = Buffer.from(`gamedock doctor ${new Date().toISOString()}\n`);
  try {
    await store.putStream(key, Readable.from([payload]), { contentType: "text/plain" });
    try {
      const read = await buffer(await store.get(key));
      if (!read.equals(payload)) {
        throw new Error(
          `the probe object read back differs from what was written (${read.length} of ${payload.length} bytes)`,
        );
      }
    } finally {
      await store.delete(key);
    }
    if ((await store.head(key)) !== null)
      throw new Error("the probe object is still there after delete");
    const probe = await store.probeCompose();
    return probe.supported
      ? "server-side copy (compose) works"
      : `no server-side copy (compose): ${probe.reason}`;
  } finally {
    await store.close();
  }
}

function targetFix(key: string, config: BlobTargetConfig, err: unknown): string {
  if (config.driver === "fs")
    return `make ${config.root} a directory this user can write, or set ${key}.root`;
  const text = reason(err);
  if (/NoSuchBucket|bucket.*(not exist|not found)/i.test(text))
    return `create the bucket ${config.bucket}, or name an existing one in ${key}.bucket`;
  if (/AccessDenied|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|credential/i.test(text))
    return `check ${key}.accessKeyId and secretAccessKey, and that they may put, get and delete objects in ${config.bucket}`;
  return `check ${key}.endpoint and that the store answers there`;
}

export function checkTarget(
  name: string,
  config: BlobTargetConfig,
  timeoutMs: number,
): Promise<Check> {
  const key = `targets.${name}`;
  return runProbe(
    key,
    timeoutMs,
    async () => {
      if (config.driver === "fs") await writableDir(config.root);
      else {
        const endpoint = endpointOf(config.endpoint);
        if (endpoint) await reachTcp(endpoint, timeoutMs);
      }
      const compose = await roundTrip(config);
      const where =
        config.driver === "fs" ? config.root : `${config.endpoint} bucket ${config.bucket}`;
      return pass(
        key,
        `${config.driver} ${where}: wrote, read and deleted a probe object; ${compose}`,
      );
    },
    (err) => targetFix(key, config, err),
    config.driver === "fs" ? config.root : config.endpoint,
  );
}
