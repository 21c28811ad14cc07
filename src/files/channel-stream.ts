/**
 * Channel downloads: `GET /files/:id/channel/:channel.apk?key=value...` serves
 * a child of a stored mother APK — the bytes `gamedock channel put <mother>
 * <channel> -e key=value... --format walle` would write — without writing it
 * anywhere. A child is the mother's first `keepBytes` bytes plus a small new
 * tail (child-plan.ts), so a request streams a ranged GET of the mother and
 * then the tail from memory; any Range costs one GET at most.
 *
 * Parsing the mother needs a few small regions of it; blobSource turns those
 * reads into a handful of ranged GETs, and parsed layouts are kept in a small
 * LRU per (store, key, etag) so repeated downloads of one mother parse once.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  openApkFromSource,
  planChild,
  signatureSchemes,
  validateChannelId,
  validateExtras,
  type ApkLayout,
  type ChildPlan,
  type RandomAccessSource,
} from "../apk/index.js";
import type { BlobKey, BlobStore, ByteRange } from "../blob/index.js";
import { GamedockError } from "../core/index.js";

/** A miss fetches at least this much, so the next small reads nearby are hits. */
const WINDOW_BYTES = 64 * 1024;
/** Reads bigger than this (a huge central directory or resources.arsc) are not kept. */
const MAX_CACHED_READ = 1024 * 1024;
/** Windows kept per source: the tail, the manifest and one or two more. */
const MAX_WINDOWS = 4;

interface Window {
  start: number;
  bytes: Buffer;
}

/** Copies bytes [position, position + length) of `key` into `target` at `offset`; returns how many came. */
async function fetchInto(
  store: BlobStore,
  key: BlobKey,
  position: number,
  length: number,
  target: Buffer,
  offset: number,
): Promise<number> {
  const body = await store.get(key, { start: position, end: position + length - 1 });
  let done = 0;
  // Leaving the loop early (a store that sends more than asked) destroys the body.
  for await (const chunk of body as AsyncIterable<Buffer>) {
    done += chunk.copy(target, offset + done, 0, Math.min(chunk.length, length - done));
    if (done === length) break;
  }
  return done;
}

/**
 * An object in a BlobStore as a RandomAccessSource, for parsing with the APK
 * engine. A miss fetches a window reaching WINDOW_BYTES/2 on either side of
 * the read, because the APK structures are read both ways: the signing block
 * footer, then the block that precedes it; a local header, then the data after.
 */
export function blobSource(store: BlobStore, key: BlobKey, size: number): RandomAccessSource {
  let windows: Window[] = [];

  const cached = (position: number, length: number): Window | undefined => {
    const index = windows.findIndex(
      (w) => w.start <= position && position + length <= w.start + w.bytes.length,
    );
    const hit = windows[index];
    if (hit && index > 0) windows = [hit, ...windows.filter((w) => w !== hit)];
    return hit;
  };

  return {
    size,
    async read(buffer, offset, length, position) {
      const wanted = Math.max(0, Math.min(length, size - position));
      if (wanted === 0) return { bytesRead: 0 };
      const hit = cached(position, wanted);
      if (hit) {
        const from = position - hit.start;
        return { bytesRead: hit.bytes.copy(buffer, offset, from, from + wanted) };
      }
      if (wanted > MAX_CACHED_READ) {
        return { bytesRead: await fetchInto(store, key, position, wanted, buffer, offset) };
      }
      const start = Math.max(0, position - WINDOW_BYTES / 2);
      const end = Math.min(
        size,
        Math.max(position + wanted + WINDOW_BYTES / 2, start + WINDOW_BYTES),
      );
      const bytes = Buffer.alloc(end - start);
      const got = await fetchInto(store, key, start, bytes.length, bytes, 0);
      const window = { start, bytes: bytes.subarray(0, got) };
      windows = [window, ...windows].slice(0, MAX_WINDOWS);
      const from = Math.min(position - start, got);
      return { bytesRead: window.bytes.copy(buffer, offset, from, Math.min(from + wanted, got)) };
    },
    close() {
      windows = [];
      return Promise.resolve();
    },
  };
}

/** Parsed mothers, most recently used last; bounded by count and by central-directory bytes. */
class LayoutCache {
  private readonly layouts = new Map<string, ApkLayout>();
  private readonly parsing = new Map<string, Promise<ApkLayout>>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  async get(id: string, parse: () => Promise<ApkLayout>): Promise<ApkLayout> {
    const layout = this.layouts.get(id);
    if (layout) {
      this.layouts.delete(id);
      this.layouts.set(id, layout);
      return layout;
    }
    // Concurrent first downloads of one mother share one parse.
    let pending = this.parsing.get(id);
    if (!pending) {
      pending = parse().finally(() => this.parsing.delete(id));
      this.parsing.set(id, pending);
      this.add(id, await pending);
    }
    return pending;
  }

  private add(id: string, layout: ApkLayout): void {
    this.layouts.set(id, layout);
    this.bytes += layout.centralDirectory.length;
    for (const [oldId, old] of this.layouts) {
      if (this.layouts.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      if (oldId === id) break;
      this.layouts.delete(oldId);
      this.bytes -= old.centralDirectory.length;
    }
  }
}

const MAX_CACHED_LAYOUTS = 32;
/** A big game's central directory is a few MB; this keeps a dozen of them. */
const MAX_CACHED_LAYOUT_BYTES = 64 * 1024 * 1024;
const layoutCaches = new WeakMap<BlobStore, LayoutCache>();

function layoutCacheOf(store: BlobStore): LayoutCache {
  let cache = layoutCaches.get(store);
  if (!cache) {
    cache = new LayoutCache(MAX_CACHED_LAYOUTS, MAX_CACHED_LAYOUT_BYTES);
    layoutCaches.set(store, cache);
  }
  return cache;
}

/** Extras as the query string gives them: a record, or pairs in order (URLSearchParams). */
export type ChannelExtras = Readonly<Record<string, string>> | Iterable<readonly [string, string]>;

/** The one extras validator (apk's), as for `channel put -e`: the last value of a repeated key wins. */
function checkExtras(extras: ChannelExtras): Record<string, string> {
  const pairs = Symbol.iterator in extras ? [...extras] : Object.entries(extras);
  return validateExtras(Object.fromEntries(pairs), "query parameters");
}

export interface ChannelDownload {
  plan: ChildPlan;
  /** Opaque token (no quotes) naming these exact child bytes; quote it for an ETag header. */
  etag: string;
}

/** Bumped whenever the bytes a plan produces change for the same inputs. */
const ETAG_VERSION = "channel-stream/1";

/**
 * Validates a channel download and plans the child of the mother stored at
 * `key` (`size` bytes, as recorded). Errors are the CLI's: E_CHANNEL_INVALID,
 * E_EXTRA_INVALID, E_UNSIGNED, E_NOT_ZIP / E_TRUNCATED / E_NO_MANIFEST ...;
 * E_NOT_FOUND if the object is gone. `label` names the mother in messages.
 */
export async function planChannelDownload(
  store: BlobStore,
  key: BlobKey,
  size: number,
  channel: string,
  extras: ChannelExtras,
  options: { label?: string } = {},
): Promise<ChannelDownload> {
  validateChannelId(channel, "download URL");
  const checkedExtras = checkExtras(extras);
  const label = options.label ?? `stored APK ${JSON.stringify(key)}`;
  const info = await store.head(key);
  if (!info) {
    throw new GamedockError("E_NOT_FOUND", `${label} is not in the store`, { key });
  }
  if (info.size !== size) {
    // The record and the object disagree: serving either size would send a broken APK.
    throw new GamedockError(
      "E_INTERNAL",
      `${label} is ${info.size} bytes in the store but ${size} bytes in its record`,
      { key },
    );
  }
  const layout = await layoutCacheOf(store).get(`${key}\0${info.etag}`, async () => {
    const source = blobSource(store, key, size);
    try {
      return (await openApkFromSource(source, label)).layout;
    } finally {
      await source.close();
    }
  });
  if (!Object.values(signatureSchemes(layout)).some(Boolean)) {
    throw new GamedockError(
      "E_UNSIGNED",
      `${label} is not signed (no v1, v2 or v3 signature); upload a signed APK to serve channel downloads`,
      { key },
    );
  }
  const plan = planChild(layout, {
    channel,
    extras: checkedExtras,
    format: "walle",
    v1Style: "comment",
  });
  // Object.entries gives the order the Walle JSON is written in, so equal tokens mean equal bytes.
  const etag = createHash("sha256")
    .update(JSON.stringify([ETAG_VERSION, info.etag, size, channel, Object.entries(checkedExtras)]))
    .digest("base64url")
    .slice(0, 32);
  return { plan, etag };
}

/** `range` against the child's size, as HTTP does: a start past the end is 416, an end past it is cut. */
function childRange(plan: ChildPlan, range: ByteRange | undefined): ByteRange {
  if (!range) return { start: 0, end: plan.size - 1 };
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new GamedockError(
      "E_RANGE",
      `byte range ${start}-${end} is invalid: start and end are byte offsets with 0 ≤ start ≤ end`,
      { start, end },
    );
  }
  if (start >= plan.size) {
    throw new GamedockError(
      "E_RANGE",
      `byte range ${start}-${end} starts past the end of the ${plan.size}-byte APK`,
      { start, end, size: plan.size },
    );
  }
  return { start, end: Math.min(end, plan.size - 1) };
}

/** Bytes [start, end] of the mother, exactly: a shorter object means it changed under us. */
async function* motherBytes(
  store: BlobStore,
  key: BlobKey,
  range: ByteRange,
): AsyncGenerator<Buffer> {
  let left = range.end - range.start + 1;
  const body = await store.get(key, range);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= piece.length;
    yield piece;
    if (left === 0) return;
  }
  throw new GamedockError(
    "E_TRUNCATED",
    `stored APK ${JSON.stringify(key)} ended ${left} bytes before byte ${range.end}: it changed after the download was planned`,
    { key },
  );
}

/** The tail pieces' overlap with [start, end], as views (no copies). */
function* tailBytes(plan: ChildPlan, range: ByteRange): Generator<Buffer> {
  let at = plan.keepBytes;
  for (const piece of plan.tail) {
    const from = Math.max(range.start, at);
    const to = Math.min(range.end + 1, at + piece.length);
    if (from < to) yield piece.subarray(from - at, to - at);
    at += piece.length;
  }
}

/**
 * Streams bytes [start, end] (inclusive; default: all) of the planned child.
 * The part before `keepBytes` is one ranged GET of the mother, passed through
 * chunk by chunk; the rest comes from the plan's tail. Nothing is requested
 * until the stream is read; destroying it closes the GET. A bad range throws
 * E_RANGE at once.
 */
export function childStream(
  store: BlobStore,
  key: BlobKey,
  plan: ChildPlan,
  range?: ByteRange,
): Readable {
  const wanted = childRange(plan, range);
  async function* child(): AsyncGenerator<Buffer> {
    if (wanted.start < plan.keepBytes) {
      const end = Math.min(wanted.end, plan.keepBytes - 1);
      yield* motherBytes(store, key, { start: wanted.start, end });
    }
    yield* tailBytes(plan, wanted);
  }
  return Readable.from(child(), { objectMode: false });
}
