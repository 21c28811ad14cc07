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
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GETs (or sends `body` as JSON) and answers the parsed JSON; throws ApiError. */
export async function api(path, { method = "GET", body, useToken = token() } = {}) {
  const headers = { accept: "application/json" };
  if (useToken) headers.authorization = `Bearer ${useToken}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text === "" ? null : JSON.parse(text);
  if (!response.ok) {
    const error = json?.error ?? {};
    if (response.status === 401) onUnauthorized();
    throw new ApiError(
      response.status,
      error.code ?? "E_HTTP",
      error.message ?? response.statusText,
    );
  }
  return json;
}
