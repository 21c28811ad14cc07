// Requests to gamedock's public HTTP API. The token (if the server needs
// one) lives in session storage and goes in the Authorization header — never
// in a URL. A 401 anywhere sends the page back to the sign-in screen.
const KEY = "gamedock.token";
let onUnauthorized = () => undefined;

export const token = () => sessionStorage.getItem(KEY);
export const setToken = (value) => sessionStorage.setItem(KEY, value);
export const clearToken = () => sessionStorage.removeItem(KEY);
export const whenUnauthorized = (handler) => (onUnauthorized = handler);

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The headers every request carries: the token, when there is one. */
export function authHeaders(useToken = token()) {
  return useToken ? { authorization: `Bearer ${useToken}` } : {};
}

async function failure(response) {
  const text = await response.text();
  let error = {};
  try {
    error = JSON.parse(text)?.error ?? {};
  } catch {
    // Not JSON (a proxy's page): the status line says enough.
  }
  if (response.status === 401) onUnauthorized();
  return new ApiError(
    response.status,
    error.code ?? "E_HTTP",
    error.message ?? `${response.status} ${response.statusText}`,
    error.details ?? {},
  );
}

/** GETs (or sends `body` as JSON) and answers the parsed JSON; throws ApiError. */
export async function api(path, { method = "GET", body, useToken = token() } = {}) {
  const headers = { accept: "application/json", ...authHeaders(useToken) };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text === "" ? null : JSON.parse(text);
}

/** A path with a query string of the values that are set. */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text === "" ? path : `${path}?${text}`;
}

/**
 * Reads a server-sent event stream through fetch (EventSource cannot send the
 * token) and calls `onEvent(type, data)` for each event; resolves when the
 * server ends the stream or `signal` aborts it.
 */
export async function readEvents(path, { signal, onEvent }) {
  const response = await fetch(path, {
    headers: { accept: "text/event-stream", ...authHeaders() },
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      let end;
      while ((end = buffered.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end).replace(/^\r?\n\r?\n/, "");
        let type = "message";
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length > 0) onEvent(type, JSON.parse(data.join("\n")));
      }
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw err;
  }
}

/** Asks the file service for a signed link to a stored file, then downloads through it. */
export async function signedFileUrl(id, ttl = 300) {
  const answer = await api(withQuery(`/files/${encodeURIComponent(id)}/sign`, { ttl }), {
    method: "POST",
  });
  return new URL(answer.url, location.href).href;
}

/** Starts a download of `url` (a signed link: it needs no token) without leaving the page. */
export function download(url) {
  const link = document.createElement("a");
  link.href = url;
  link.rel = "noopener";
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}
