/**
 * Everything `pack` checks before it writes a byte (design note 000/001): the
 * parameters, the mother (exists, regular file, readable, an APK we can write),
 * the output directory (writable), and every output name (generated, free of
 * collisions, and either absent or already holding the same child).
 */
import { open, stat } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { GamedockError, errnoCode, fsError, removeAbandonedTemps } from "../core/index.js";
import type { ApkLayout } from "./apk-file.js";
import type { BlockFormat, V1Style } from "./channel-format.js";
import { rejectDuplicates, type ChannelEntry } from "./channel-list.js";
import { planChild, requireSigned, type ChildPlan } from "./child-plan.js";
import { openApk } from "./inspect.js";
import { ensureWritableDir } from "./output-dir.js";
import type { ManifestInfo } from "./manifest.js";
import { renderName, validateTemplate, type TemplateValues } from "./name-template.js";

export interface PackOptions {
  mother: string;
  channels: ChannelEntry[];
  outDir: string;
  template: string;
  /** Extras for every channel; a channel's own extras win. */
  extras: Record<string, string>;
  format: BlockFormat;
  v1Style: V1Style;
  allowUnsigned: boolean;
  force: boolean;
}

export interface PlannedChild {
  channel: string;
  extras: Record<string, string>;
  path: string;
  plan: ChildPlan;
  /** An identical child is already there: nothing to write. */
  skip: boolean;
}

export interface PackPlan {
  mother: string;
  layout: ApkLayout;
  manifest: ManifestInfo;
  outDir: string;
  children: PlannedChild[];
}

/** Reads `length` bytes at `position`, or null when the file is shorter. */
async function readRange(path: string, position: number, length: number): Promise<Buffer | null> {
  const handle = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, position);
    return bytesRead === length ? buf : null;
  } finally {
    await handle.close();
  }
}

/**
 * An existing output is "the same child" when it has exactly the planned size
 * and tail: the tail holds the signing block (with digests of every entry), the
 * central directory and the channel, so equal tails mean equal children.
 */
async function existingMatches(path: string, plan: ChildPlan): Promise<boolean | null> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw fsError(err, path, "existing output");
  }
  if (!info.isFile()) {
    throw new GamedockError("E_OUTPUT_EXISTS", `output ${path} exists and is not a file`, { path });
  }
  if (info.size !== plan.size) return false;
  const tail = await readRange(path, plan.keepBytes, plan.tailLength);
  if (tail === null) return false;
  let at = 0;
  for (const piece of plan.tail) {
    if (!tail.subarray(at, at + piece.length).equals(piece)) return false;
    at += piece.length;
  }
  return true;
}

export function templateValues(
  mother: string,
  manifest: ManifestInfo,
  channel: string,
): TemplateValues {
  return {
    package: manifest.package,
    versionName: manifest.versionName ?? String(manifest.versionCode),
    versionCode: String(manifest.versionCode),
    label: manifest.label ?? manifest.package,
    channel,
    mother: basename(mother, extname(mother)),
  };
}

export async function preparePack(options: PackOptions): Promise<PackPlan> {
  if (options.channels.length === 0) {
    throw new GamedockError("E_USAGE", "no channels given: use -c a,b,c or -f channels.txt");
  }
  rejectDuplicates(options.channels);
  validateTemplate(options.template);

  const { layout, manifest } = await openApk(options.mother);
  requireSigned(layout, options.allowUnsigned);
  const outDir = resolve(options.outDir);

  // Names and plans first: they can fail without touching the disk.
  const motherPath = resolve(options.mother);
  const byPath = new Map<string, string>();
  const planned: Omit<PlannedChild, "skip">[] = [];
  for (const entry of options.channels) {
    const values = templateValues(options.mother, manifest, entry.channel);
    const path = join(outDir, renderName(options.template, values));
    const clash = byPath.get(path);
    if (clash !== undefined || path === motherPath) {
      const why =
        clash !== undefined
          ? `which channel ${JSON.stringify(clash)} also uses`
          : "which is the mother APK";
      throw new GamedockError(
        "E_OUTPUT_NAME",
        `channel ${JSON.stringify(entry.channel)} would be written to ${path}, ${why}; put {channel} in --name`,
        { channel: entry.channel, path },
      );
    }
    byPath.set(path, entry.channel);
    const extras = { ...options.extras, ...entry.extras };
    const plan = planChild(layout, {
      channel: entry.channel,
      extras,
      format: options.format,
      v1Style: options.v1Style,
    });
    planned.push({ channel: entry.channel, extras, path, plan });
  }

  await ensureWritableDir(outDir);
  const children: PlannedChild[] = [];
  for (const child of planned) {
    const same = await existingMatches(child.path, child.plan);
    if (same === false && !options.force) {
      throw new GamedockError(
        "E_OUTPUT_EXISTS",
        `output ${child.path} already exists and is not this mother's child for channel ${JSON.stringify(child.channel)}; pass --force to overwrite it`,
        { channel: child.channel, path: child.path },
      );
    }
    children.push({ ...child, skip: same === true && !options.force });
  }
  // A run killed with -9 can leave `.gamedock-<pid>-<hex>.tmp` behind (its cp may
  // even finish after it): those of processes that are gone are removed.
  await removeAbandonedTemps(outDir);
  return { mother: options.mother, layout, manifest, outDir, children };
}
