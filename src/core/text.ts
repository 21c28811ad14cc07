/**
 * What any user-supplied text (channel ids, extras, file names, job fields)
 * must be before it reaches a file name, an object key, a URL, a log line or
 * a child APK: well-formed Unicode, and free of characters that hide or
 * disguise what the text says.
 *
 * - Ill-formed Unicode (a lone UTF-16 surrogate such as "\ud800") has no UTF-8
 *   form: stored, it becomes U+FFFD, so the name changes on its way; encodeURIComponent
 *   throws on it.
 * - Control characters (C0, DEL, C1) and U+2028/U+2029 cut or forge log lines,
 *   headers and file names.
 * - Bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) make a
 *   name display reversed: "gpj.exe" shown as "exe.jpg".
 */

const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
/** In a /u pattern a surrogate pair is one code point; only a lone surrogate is in category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `text` is unacceptable, in words for an error message, or null when it is fine. */
export function textProblem(text: string): string | null {
  if (LONE_SURROGATE.test(text)) return "it is not well-formed Unicode (a lone UTF-16 surrogate)";
  const control = CONTROL.exec(text);
  if (control) return `it contains the control character ${codePoint(control[0])}`;
  const bidi = BIDI.exec(text);
  if (bidi) {
    return `it contains the bidirectional control ${codePoint(bidi[0])}, which makes text display out of order`;
  }
  return null;
}

/**
 * `text` in double quotes for an error message, as JSON.stringify quotes it
 * (control characters escaped) and with bidirectional controls escaped too,
 * so a refused name shows what it holds instead of displaying reversed.
 */
export function quoteText(text: string): string {
  return JSON.stringify(text).replace(
    /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/** "U+202E" */
export function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Length in code points: what a person counts in 华为, not UTF-16 units. */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
