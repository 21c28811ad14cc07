/**
 * Request values checked the same way by every route and body: query
 * parameters with messages that name the field, and the first problem a
 * schema (zod's `issues`) found, as E_INVALID_REQUEST with `details.field`.
 * Free of zod itself, so loading core stays cheap.
 */
import { GamedockError } from "./errors.js";

/** `?field=` as a whole number from `min` to `max`; absent → `fallback`. */
export function intParam(
  value: string | undefined,
  field: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d{1,16}$/.test(value) || n < min || n > max) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${field} must be an integer from ${min} to ${max}`,
      { field },
    );
  }
  return n;
}

/** `?field=` as one of `allowed`; absent → undefined. */
export function enumParam<T extends string>(
  value: string | undefined,
  field: string,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new GamedockError("E_INVALID_REQUEST", `${field} must be one of ${allowed.join(", ")}`, {
      field,
    });
  }
  return value as T;
}

/** A schema's first issue as the error a client gets: `invalid field "a.b": …`. */
export function invalidField(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): GamedockError {
  const issue = issues[0];
  const field = issue ? issue.path.map(String).join(".") : "";
  return new GamedockError(
    "E_INVALID_REQUEST",
    `invalid field ${JSON.stringify(field)}: ${issue?.message ?? "invalid"}`,
    { field },
  );
}
