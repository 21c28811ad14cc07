/**
 * What a channel id may be. Channel ids end up in file names, object keys and
 * URLs, so we refuse anything a file system or a shell would trip on.
 */
import { GamedockError } from "../core/index.js";

export const MAX_CHANNEL_LENGTH = 64;
const FORBIDDEN = /[/\\:*?"<>|]/u;
// C0/C1 controls, and the line/paragraph separators that split log lines.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/** Where a channel came from, for error messages: "-c", or "channels.txt line 4". */
export type ChannelSource = string;

export function validateChannelId(channel: string, source: ChannelSource): string {
  // "Characters" means code points: what a person counts in 华为 or 小米, not UTF-16 units.
  // eslint-disable-next-line @typescript-eslint/no-misused-spread
  const length = [...channel].length;
  const where = `channel ${JSON.stringify(channel)} (${source})`;
  if (length === 0) {
    throw new GamedockError("E_CHANNEL_INVALID", `empty channel id (${source})`, { source });
  }
  if (length > MAX_CHANNEL_LENGTH) {
    throw new GamedockError(
      "E_CHANNEL_INVALID",
      `${where} is ${length} characters long; the limit is ${MAX_CHANNEL_LENGTH}`,
      { channel, source },
    );
  }
  const forbidden = FORBIDDEN.exec(channel);
  if (forbidden) {
    throw new GamedockError(
      "E_CHANNEL_INVALID",
      `${where} contains ${JSON.stringify(forbidden[0])}; channel ids may not contain / \\ : * ? " < > |`,
      { channel, source },
    );
  }
  if (CONTROL.test(channel)) {
    throw new GamedockError("E_CHANNEL_INVALID", `${where} contains a control character`, {
      channel,
      source,
    });
  }
  if (channel === "." || channel === "..") {
    throw new GamedockError("E_CHANNEL_INVALID", `${where} is not a valid channel id`, {
      channel,
      source,
    });
  }
  return channel;
}

/** `key=value` extras travel in the Walle JSON next to "channel". */
export function parseExtra(text: string, source: string): [string, string] {
  const eq = text.indexOf("=");
  const key = eq > 0 ? text.slice(0, eq) : "";
  if (!key || CONTROL.test(text)) {
    throw new GamedockError(
      "E_EXTRA_INVALID",
      `extra ${JSON.stringify(text)} (${source}) must look like key=value with a non-empty key`,
      { extra: text, source },
    );
  }
  if (key === "channel") {
    throw new GamedockError(
      "E_EXTRA_INVALID",
      `extra key "channel" (${source}) is reserved for the channel id itself`,
      { extra: text, source },
    );
  }
  return [key, text.slice(eq + 1)];
}
