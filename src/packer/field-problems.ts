/**
 * The problems of one pack-job request, field by field. The create and its
 * dry run run every check and collect what each one finds, so a form can show
 * every error next to its field at once (`details.fields`) instead of one per
 * round trip. A failure of the server rather than of the request (an
 * unexpected error, a store that does not answer, a full disk — the codes
 * that are retryable) is not a field's problem: it is thrown at once, as before.
 */
import { GamedockError, isGamedockError, type ErrorCode } from "../core/index.js";

/** One entry of `details.fields`. */
export interface FieldProblem {
  /** The field as `details.field` names it: "channels.3.id", "apk", "" for the body itself. */
  field: string;
  code: ErrorCode;
  message: string;
}

/** Entries an answer lists; a body of 10 000 bad channels gets the first ones and a count. */
export const MAX_LISTED_FIELDS = 100;

export class FieldProblems {
  /** Each problem, its details naming its field. */
  readonly #errors: { field: string; error: GamedockError }[] = [];

  get count(): number {
    return this.#errors.length;
  }

  /** Records `err` as the problem of `field`; a failure of the server is thrown instead. */
  add(err: unknown, field: string): void {
    if (!isGamedockError(err)) throw err;
    const named = new GamedockError(
      err.code,
      err.message,
      { ...err.details, field },
      { retryable: err.retryable, cause: err.cause },
    );
    if (named.retryable) throw named;
    this.#errors.push({ field, error: named });
  }

  /** `check()`'s value, or undefined when it threw a problem of `field` (recorded). */
  check<T>(field: string, check: () => T): T | undefined {
    try {
      return check();
    } catch (err) {
      this.add(err, field);
      return undefined;
    }
  }

  async checkAsync<T>(field: string, check: () => Promise<T>): Promise<T | undefined> {
    try {
      return await check();
    } catch (err) {
      this.add(err, field);
      return undefined;
    }
  }

  /** `details.fields` and, past the cap, how many were left out. */
  details(): { fields: FieldProblem[]; fieldsOmitted?: number } {
    const fields = this.#errors.slice(0, MAX_LISTED_FIELDS).map(({ field, error }) => ({
      field,
      code: error.code,
      message: error.message,
    }));
    const omitted = this.#errors.length - fields.length;
    return omitted > 0 ? { fields, fieldsOmitted: omitted } : { fields };
  }

  /**
   * What the create answers: the first problem — its code, status, message and
   * `details.field` as when the create stopped at it — with every problem in
   * `details.fields`.
   */
  firstError(): GamedockError {
    const first = this.#errors[0]?.error;
    if (!first) throw new GamedockError("E_INTERNAL", "firstError() of a request without problems");
    const more = this.#errors.length - 1;
    const message =
      more > 0
        ? `${first.message} (and ${more} more problem${more === 1 ? "" : "s"}: see details.fields)`
        : first.message;
    return new GamedockError(first.code, message, { ...first.details, ...this.details() });
  }

  /** What a dry run answers: 400 E_INVALID_REQUEST, with the same `details.field` and `fields`. */
  invalidRequest(): GamedockError {
    const first = this.#errors[0];
    if (!first)
      throw new GamedockError("E_INTERNAL", "invalidRequest() of a request without problems");
    const n = this.#errors.length;
    const message =
      n === 1
        ? `the request has a problem: ${first.error.message}`
        : `the request has ${n} problems (see details.fields); the first: ${first.error.message}`;
    return new GamedockError("E_INVALID_REQUEST", message, {
      field: first.field,
      ...this.details(),
    });
  }
}
