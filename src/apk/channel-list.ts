/**
 * Channel lists as users write them: `-c a,b,c` on the command line, or a
 * channels file with one channel per line, `#` comments and optional
 * `key=value` extras after the channel. Every channel is validated and
 * duplicates are refused, naming where each one came from.
 */
import { readFile } from "node:fs/promises";
import { GamedockError, fsError } from "../core/index.js";
import { parseExtras, validateChannelId } from "./channel-id.js";

export interface ChannelEntry {
  channel: string;
  extras: Record<string, string>;
  /** "-c" or "channels.txt line 4": quoted in errors. */
  source: string;
}

export function parseChannelArg(value: string): ChannelEntry[] {
  return value.split(",").map((part, index) => {
    const source = `-c item ${index + 1}`;
    return { channel: validateChannelId(part.trim(), source), extras: {}, source };
  });
}

/** Strips a `#` comment that starts a line or follows whitespace. */
function stripComment(line: string): string {
  const match = /(^|\s)#/.exec(line);
  return match ? line.slice(0, match.index) : line;
}

export function parseChannelFileText(text: string, fileName: string): ChannelEntry[] {
  const entries: ChannelEntry[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, index) => {
    const source = `${fileName} line ${index + 1}`;
    const tokens = stripComment(raw)
      .trim()
      .split(/[ \t]+/)
      .filter(Boolean);
    const [channel, ...extras] = tokens;
    if (channel === undefined) return;
    entries.push({
      channel: validateChannelId(channel, source),
      extras: parseExtras(extras, source),
      source,
    });
  });
  return entries;
}

export async function readChannelFile(path: string): Promise<ChannelEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const mapped = fsError(err, path, "channels file");
    if (mapped instanceof GamedockError && mapped.code === "E_NOT_FOUND") throw mapped;
    throw mapped instanceof GamedockError
      ? new GamedockError("E_CHANNEL_FILE", mapped.message, { path })
      : mapped;
  }
  const entries = parseChannelFileText(text, path);
  if (entries.length === 0) {
    throw new GamedockError("E_CHANNEL_FILE", `channels file ${path} lists no channels`, { path });
  }
  return entries;
}

/** Refuses a channel listed twice, naming both places. */
export function rejectDuplicates(entries: ChannelEntry[]): void {
  const seen = new Map<string, string>();
  for (const entry of entries) {
    const first = seen.get(entry.channel);
    if (first !== undefined) {
      throw new GamedockError(
        "E_CHANNEL_DUPLICATE",
        `channel ${JSON.stringify(entry.channel)} is listed twice (${first} and ${entry.source})`,
        { channel: entry.channel, source: entry.source },
      );
    }
    seen.set(entry.channel, entry.source);
  }
}
