/**
 * `Content-Disposition: attachment` with the object's UTF-8 name (RFC 6266):
 * `filename*=UTF-8''<percent-encoded>` (RFC 8187) for clients that read it —
 * browsers, download managers — and a `filename="…"` fallback for those that
 * do not, such as `curl -OJ`, which saves under the fallback as it stands.
 *
 * The fallback keeps printable ASCII as it is and percent-encodes the UTF-8
 * of everything else (and of `%`, `"`, `\`, which would be ambiguous or end
 * the quoted string). So it is readable for Latin names, and different names
 * always get different fallbacks: "游戏-华为.apk" and "游戏-小米.apk" are saved
 * as two files, not both as "__-__.apk". A fallback that would be longer
 * than a file name may be (255 bytes on most file systems; a Chinese
 * character takes nine) keeps its start and extension and gets a short hash
 * of the whole name in between, so it still saves, and still uniquely.
 */
import { createHash } from "node:crypto";

/** Longest fallback, in characters (ASCII): under 255, with room for a client's ".1" suffix. */
const MAX_FALLBACK = 200;

/** One character as %XX of its UTF-8 bytes. */
function percentEncode(char: string): string {
  return [...Buffer.from(char, "utf8")]
    .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`)
    .join("");
}

/** Each code point of `text` as it appears in a fallback (encoding code points loses nothing). */
function pieces(text: string): string[] {
  return Array.from(text, (char) => {
    const code = char.codePointAt(0) ?? 0;
    const plain = code >= 0x20 && code <= 0x7e && char !== "%" && char !== '"' && char !== "\\";
    return plain ? char : percentEncode(char);
  });
}

/** Printable ASCII but `%`, `"` and `\` stays; the rest is percent-encoded (reversibly). */
export function asciiFallback(name: string): string {
  const whole = pieces(name).join("");
  if (whole.trim() === "") return "download";
  if (whole.length <= MAX_FALLBACK) return whole;
  const extension = /\.[A-Za-z0-9]{1,16}$/.exec(name)?.[0] ?? "";
  const tag = `~${createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
  let kept = "";
  for (const piece of pieces(name.slice(0, name.length - extension.length))) {
    if (kept.length + piece.length + tag.length + extension.length > MAX_FALLBACK) break;
    kept += piece; // whole characters only: never half of a %XX%XX%XX sequence
  }
  return `${kept}${tag}${extension}`;
}

/** RFC 8187 attr-char: encodeURIComponent leaves ' ( ) * unescaped, which are not attr-chars. */
function extValue(name: string): string {
  return encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function contentDisposition(name: string): string {
  return `attachment; filename="${asciiFallback(name)}"; filename*=UTF-8''${extValue(name)}`;
}
