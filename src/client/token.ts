/**
 * Where each connection's token comes from: `token` for the first, then
 * `getToken()` for every later one, so a client outlives its tokens' expiry
 * (the gateway closes an expired connection with 4401; the next attempt asks
 * for a new token). Without `getToken` the one token is reused — and a 4401
 * is final, since retrying the same token could only fail again.
 */
import { CLIENT_ERRORS, GamedockClientError } from "./errors.js";

export type GetToken = () => string | Promise<string>;

export class TokenSource {
  /** With getToken: the given token, until the first connection takes it. Without: the token. */
  private token: string | undefined;

  constructor(
    token: string | undefined,
    private readonly getToken: GetToken | undefined,
  ) {
    if (token === undefined && getToken === undefined) {
      throw new GamedockClientError(CLIENT_ERRORS.invalid, "connect() needs token or getToken");
    }
    this.token = token;
  }

  /** Whether a rejected token can be replaced. */
  get renewable(): boolean {
    return this.getToken !== undefined;
  }

  /** The token for the next connection. */
  async next(): Promise<string> {
    if (this.getToken === undefined) return this.token!;
    const given = this.token;
    this.token = undefined;
    return given ?? this.fresh();
  }

  /** A new token from getToken (also for a refresh over the socket). */
  async fresh(): Promise<string> {
    if (this.getToken === undefined) {
      throw new GamedockClientError(
        CLIENT_ERRORS.invalid,
        "refreshToken() needs a token when connect() was given no getToken",
      );
    }
    const token = await this.getToken();
    if (typeof token !== "string" || token.length === 0) {
      throw new GamedockClientError(CLIENT_ERRORS.invalid, "getToken() returned no token");
    }
    return token;
  }

  /** A token the gateway accepted over the socket: the one to reconnect with, without getToken. */
  accepted(token: string): void {
    if (this.getToken === undefined) this.token = token;
  }
}
