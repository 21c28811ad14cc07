/**
 * `Content-Disposition: attachment` with the file's UTF-8 name (RFC 6266):
 * `filename="<ASCII fallback>"` for old clients and
 * `filename*=UTF-8''<percent-encoded>` (RFC 8187) for everyone else, so
 * Chinese names survive browsers, curl -OJ and download managers alike.
 */

/** Printable ASCII except the quote and backslash, which would end or escape the quoted string. */
function asciiFallback(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return fallback.replace(/^[_ ]*$/, "download") || "download";
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
