/**
 * The public types of `gamedock/client`: options, what the gateway sends
 * (welcome, push heads, membership), the events, and the WebSocket shape the
 * client needs — declared here, structurally, so the same code takes the
 * browser's WebSocket and the `ws` package's without either one's types.
 */
import type { FinalCode, GamedockClientError } from "./errors.js";

/** What happens to requests made while there is no welcomed connection. */
export type WhileDisconnected = "queue" | "fail";

/**
 * `connecting`: a socket is being opened (or waits for its welcome);
 * `open`: welcomed, requests go out at once; `reconnecting`: waiting out the
 * backoff before the next attempt; `closed`: stopped for good.
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

/** Where a client is in one history: the epoch and the last offset it holds. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/**
 * Every history position the client holds — its own pushes (`user`), the
 * broadcast ones (`all`) and each application group's. Save it (say, in
 * localStorage) and pass it back as `resume` to carry on after a reload.
 */
export interface ResumeState {
  user?: StreamPosition;
  all?: StreamPosition;
  groups: Record<string, StreamPosition>;
}

/** The welcome (msgId 1) the gateway sends first on every connection. */
export interface Welcome {
  uid: string;
  group: string;
  connId: string;
  gatewayId: string;
  epoch: string;
  offset: number;
  allEpoch: string;
  allOffset: number;
  /** The application groups the uid is in (absent from gateways that predate groups). */
  groups?: Record<string, StreamPosition>;
  /** False: pushes may have been missed (another epoch, or trimmed): refetch state. */
  recovered: boolean;
}

/** A push frame's head. `offset` is absent for pushes that were not persisted. */
export interface PushHead {
  msgId: number;
  push: true;
  stream?: "user" | "all" | "group";
  /** The application group of a `"group"` push. */
  group?: string;
  offset?: number;
}

/** The uid joined or left application groups while connected (msgId 4). */
export interface Membership {
  joined: Record<string, StreamPosition>;
  left: string[];
}

export interface StateChange {
  state: ClientState;
  previous: ClientState;
}

/** A socket closed, or an attempt failed; `retryInMs` is absent when the client stops. */
export interface DisconnectInfo {
  /** The WebSocket close code (1006: the network dropped or the handshake failed). */
  code: number;
  reason: string;
  /** The gateway URL the socket went to. */
  url: string;
  /** Whether the connection had been welcomed. */
  wasOpen: boolean;
  retryInMs?: number;
}

/** Why the client stopped for good. */
export interface ClosedInfo {
  code: FinalCode;
  message: string;
  /** The WebSocket close code that stopped it, when the gateway did (4401, 4403). */
  closeCode?: number;
}

export type PushListener<T = unknown> = (body: T, head: PushHead) => void;

/** The events of `client.on(name, listener)`. */
export interface ClientEvents {
  /** Every welcome: the first connection and each reconnection. */
  welcome: (welcome: Welcome) => void;
  /** A welcome said `recovered: false`: pushes may have been missed, refetch state. */
  resync: (welcome: Welcome) => void;
  state: (change: StateChange) => void;
  disconnect: (info: DisconnectInfo) => void;
  membership: (change: Membership) => void;
  /** Every push that is delivered (after the duplicate check), whatever its msgId. */
  push: PushListener;
  /** Something went wrong that the client survives (it keeps reconnecting): for logs. */
  error: (error: GamedockClientError) => void;
  /** The client stopped for good: `close()`, 4403, or 4401 without `getToken`. */
  closed: (info: ClosedInfo) => void;
}

export type ClientEventName = keyof ClientEvents;

export type Unsubscribe = () => void;

export interface ClientOptions {
  /** The token for the first connection (and every one, without `getToken`). */
  token?: string;
  /**
   * Called for each connection (after the first, when `token` is given):
   * return a fresh token, so an expired one is replaced on reconnect.
   */
  getToken?: () => string | Promise<string>;
  /** Requests made while disconnected: queued and sent after the next welcome (default), or failed. */
  whileDisconnected?: WhileDisconnected;
  /** Default request timeout, from `request()` to the reply, queued time included. Default 15000. */
  requestTimeoutMs?: number;
  /** Reconnect backoff: the first delay and the ceiling. Defaults 250 and 10000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Reconnect after a drop (default true); false: the first drop closes the client. */
  reconnect?: boolean;
  /** From opening a socket to its welcome; past it the attempt counts as failed. Default 10000. */
  connectTimeoutMs?: number;
  /** History positions to resume from on the first connection (from `client.resumeState`). */
  resume?: ResumeState;
  /** The WebSocket class; default `globalThis.WebSocket` (in Node 20, the `ws` package). */
  WebSocket?: WebSocketConstructor;
}

export interface RequestOptions {
  /** Milliseconds to wait for the reply (default `requestTimeoutMs`); Infinity: no limit. */
  timeout?: number;
  /**
   * The request is safe to run twice: if the socket drops after it was sent,
   * it is sent again after the reconnect instead of failing with E_DISCONNECTED.
   */
  idempotent?: boolean;
}

export interface GamedockClient {
  readonly state: ClientState;
  /** The latest welcome (null before the first). */
  readonly welcome: Welcome | null;
  /** Where the client is in each history: save it to resume after a reload. */
  readonly resumeState: ResumeState;
  /**
   * Sends `[{msgId, seq}, body]` and resolves with the reply's body when its
   * code is 0; rejects with a GamedockClientError whose `code` is the reply's
   * code, or a client code (E_CLIENT_TIMEOUT, E_DISCONNECTED, …).
   */
  request<T = unknown>(msgId: number, body?: unknown, options?: RequestOptions): Promise<T>;
  /** Listens to a client event; returns the function that stops listening. */
  on<E extends ClientEventName>(event: E, listener: ClientEvents[E]): Unsubscribe;
  /** Listens to pushes of one msgId (`T` is what the application knows the body is). */
  on<T = unknown>(msgId: number, listener: PushListener<T>): Unsubscribe;
  /** Resolves with the current welcome when open, else the next one; rejects once closed. */
  ready(): Promise<Welcome>;
  /** Sends a fresh token over the socket (msgId 2) so the gateway does not close at `exp`. */
  refreshToken(token?: string): Promise<{ exp: number | null }>;
  /** Stops for good: fails what is pending with E_CLOSED; resolves once the socket closed. */
  close(): Promise<void>;
}

/** What the client needs of a WebSocket: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onmessage: EventHandler<{ data: unknown }> | null;
  onclose: EventHandler<{ code: number; reason: string }> | null;
  onerror: EventHandler<unknown> | null;
}

export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/**
 * A handler whose parameter is checked both ways (as methods are), so the
 * browser's and `ws`'s handler types, whose events carry more fields, fit.
 */
type EventHandler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];
