/**
 * Whether a target gets its channel children composed in place (`compose`:
 * the mother uploaded once, each child a range copy of it plus its tail)
 * or uploaded whole. `targets.<name>.serverSideCopy`: false never composes,
 * true always does (a store that cannot then fails the channels, loudly),
 * "auto" (the default) asks an object store once with `probeCompose`; a no
 * is one warning line, and children go up whole as before. On an fs target
 * "auto" means no: writing a child there is a local copy either way, and
 * composing would keep a second copy of every mother in the target.
 */
import type { BlobStore, BlobTargetConfig } from "../blob/index.js";
import type { Logger } from "../core/index.js";

export async function choosesCompose(
  name: string,
  config: BlobTargetConfig,
  store: BlobStore,
  logger: Logger,
): Promise<boolean> {
  const setting = config.serverSideCopy ?? "auto";
  if (setting !== "auto") return setting;
  if (store.driver === "fs") return false;
  const probe = await store.probeCompose().catch((err: unknown) => ({
    supported: false as const,
    reason: err instanceof Error ? err.message : String(err),
  }));
  if (probe.supported) {
    logger.info(
      { event: "compose-probe", target: name, supported: true },
      "target composes children in place",
    );
    return true;
  }
  logger.warn(
    { event: "compose-probe", target: name, supported: false, reason: probe.reason },
    `target ${JSON.stringify(name)} cannot compose objects (${probe.reason}); children are uploaded whole (set targets.${name}.serverSideCopy to false to skip this check)`,
  );
  return false;
}
