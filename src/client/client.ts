/**
 * The client: one WebSocket at a time to one of the gateway URLs. It
 * matches replies to requests by seq, hands pushes to listeners once each
 * (by offset), and when the socket drops it reconnects — to the next URL,
 * after a jittered, growing delay — asking the gateway to replay what it
 * missed. Requests wait for the welcome; what happens to them across a drop
 * is in requests.ts.
 *
 * Platform-neutral: the WebSocket class comes from the entry point
 * (index.ts for Node, browser.ts for browsers), so this file pulls in
 * nothing that a browser lacks.
 */
import { backoffDelay } from "./backoff.js";
import { CLOSE, finalReason, mayResend } from "./close-codes.js";
import { Listeners } from "./emitter.js";
import { CLIENT_ERRORS, GamedockClientError, describe } from "./errors.js";
import { MSG, decodeServerFrame, isAppMsgId, parseMembership, parseWelcome } from "./frames.js";
import { RequestTable, type PendingRequest } from "./requests.js";
import { ResumePoints } from "./resume.js";
import { settingsFrom, type Settings } from "./settings.js";
import { openSocket, type Connection } from "./socket.js";
import { TokenSource } from "./token.js";
import type {
  ClientEventName,
  ClientEvents,
  ClientOptions,
  ClientState,
  ClosedInfo,
  GamedockClient,
  PushHead,
  PushListener,
  RequestOptions,
  ResumeState,
  Unsubscribe,
  WebSocketConstructor,
  Welcome,
} from "./types.js";
import { connectionUrl, gatewayUrls } from "./urls.js";

/** How an entry point finds its WebSocket class (Node may have to import `ws` first). */
export type ResolveWebSocket = () => WebSocketConstructor | Promise<WebSocketConstructor>;

/** WebSocket.OPEN: the same number in browsers and `ws`. */
const OPEN = 1;

const EVENTS = new Set<string>([
  "welcome",
  "resync",
  "state",
  "disconnect",
  "membership",
  "push",
  "error",
  "closed",
] satisfies ClientEventName[]);

export function createClient(
  urls: string | readonly string[],
  options: ClientOptions,
  resolveWebSocket: ResolveWebSocket,
): GamedockClient {
  return new Client(gatewayUrls(urls), options, resolveWebSocket);
}

class Client implements GamedockClient {
  private current: ClientState = "connecting";
  private lastWelcome: Welcome | null = null;
  private connection: Connection | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Attempts that failed since the last welcome: the backoff's exponent. */
  private failures = 0;
  private urlIndex = 0;
  /** Set once the client stopped for good. */
  private final: ClosedInfo | null = null;
  private readonly settings: Settings;
  private readonly tokens: TokenSource;
  private readonly points: ResumePoints;
  private readonly requests = new RequestTable();
  private readonly listeners = new Listeners<ClientEventName | number>((err, key) => {
    this.listenerFailed(err, key);
  });
  private readonly waiters: { resolve(w: Welcome): void; reject(err: Error): void }[] = [];

  constructor(
    private readonly urls: readonly string[],
    options: ClientOptions,
    private readonly resolveWebSocket: ResolveWebSocket,
  ) {
    this.settings = settingsFrom(options);
    this.tokens = new TokenSource(options.token, options.getToken);
    this.points = new ResumePoints(options.resume);
    // Opens after an await: listeners added right after connect() see every event.
    void this.open();
  }

  get state(): ClientState {
    return this.current;
  }

  get welcome(): Welcome | null {
    return this.lastWelcome;
  }

  get resumeState(): ResumeState {
    return this.points.snapshot();
  }

  request<T = unknown>(msgId: number, body?: unknown, options: RequestOptions = {}): Promise<T> {
    if (!isAppMsgId(msgId)) {
      return Promise.reject(
        new GamedockClientError(
          CLIENT_ERRORS.invalid,
          `msgId must be a whole number from 1000 (below is the protocol's); got ${String(msgId)}`,
          { msgId },
        ),
      );
    }
    return this.send(msgId, body, options) as Promise<T>;
  }

  on<E extends ClientEventName>(event: E, listener: ClientEvents[E]): Unsubscribe;
  on<T = unknown>(msgId: number, listener: PushListener<T>): Unsubscribe;
  on(key: ClientEventName | number, listener: (...args: never[]) => void): Unsubscribe {
    if (typeof key === "number" ? !Number.isInteger(key) : !EVENTS.has(key)) {
      throw new GamedockClientError(
        CLIENT_ERRORS.invalid,
        `on() takes a push msgId or one of ${[...EVENTS].join(", ")}; got ${JSON.stringify(key)}`,
      );
    }
    return this.listeners.add(key, listener);
  }

  ready(): Promise<Welcome> {
    if (this.final) return Promise.reject(this.finalError());
    if (this.current === "open" && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async refreshToken(token?: string): Promise<{ exp: number | null }> {
    const fresh = token ?? (await this.tokens.fresh());
    const reply = await this.send(MSG.tokenRefresh, { token: fresh }, {});
    this.tokens.accepted(fresh);
    const exp = (reply as { exp?: unknown } | null)?.exp;
    return { exp: typeof exp === "number" ? exp : null };
  }

  close(): Promise<void> {
    const closed = this.connection?.closed ?? Promise.resolve();
    this.stop({ code: "E_CLOSED", message: "the client was closed" });
    return closed;
  }

  // --- requests -----------------------------------------------------------------

  private send(msgId: number, body: unknown, options: RequestOptions): Promise<unknown> {
    if (this.final) return Promise.reject(this.finalError(msgId));
    if (this.current !== "open" && this.settings.whileDisconnected === "fail") {
      return Promise.reject(
        new GamedockClientError(
          CLIENT_ERRORS.notConnected,
          `msgId ${msgId} was not sent: the client is ${this.current}`,
          { msgId },
        ),
      );
    }
    let added: ReturnType<RequestTable["add"]>;
    try {
      added = this.requests.add(
        msgId,
        body,
        options.timeout ?? this.settings.requestTimeoutMs,
        options.idempotent === true,
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.current === "open") this.transmit(added.request);
    return added.reply;
  }

  /** Sends on the welcomed socket; a socket already closing leaves it queued. */
  private transmit(request: PendingRequest): void {
    const ws = this.connection?.ws;
    if (!ws || ws.readyState !== OPEN) return;
    ws.send(request.frame);
    request.sent = true;
  }

  // --- connecting ---------------------------------------------------------------

  private async open(): Promise<void> {
    this.setState("connecting");
    const url = this.urls[this.urlIndex]!;
    let token = "";
    try {
      token = await this.tokens.next();
      const WebSocketClass = await this.resolveWebSocket();
      if (this.final) return;
      const target = connectionUrl(url, token, this.points);
      this.connection = openSocket(WebSocketClass, url, target, this.settings.connectTimeoutMs, {
        // Each checks that its socket is still the current one: a socket given up on
        // (timeout, close()) may go on reporting, and must change nothing.
        message: (connection, data) => {
          if (this.connection === connection) this.onData(connection, data);
        },
        closed: (connection, code, reason) => {
          if (this.connection === connection) this.onClosed(connection, code, reason);
        },
        timedOut: (connection) => {
          this.abandon(connection, `no welcome within ${this.settings.connectTimeoutMs} ms`);
        },
      });
    } catch (err) {
      if (this.final) return;
      // A WebSocket constructor may quote its URL: never let the token into a message.
      const text = token ? describe(err).split(token).join("<token>") : describe(err);
      this.report(CLIENT_ERRORS.connect, `could not connect to ${url}: ${text}`);
      this.dropped(url, CLOSE.abnormal, text, false);
    }
  }

  /** Gives up on a socket now, without waiting for its close event. */
  private abandon(connection: Connection, reason: string): void {
    if (this.connection !== connection) return;
    this.onClosed(connection, CLOSE.abnormal, reason);
    connection.ws.close(CLOSE.normal, "given up by the client");
  }

  private onClosed(connection: Connection, code: number, reason: string): void {
    clearTimeout(connection.timer);
    this.connection = null;
    if (this.final) return;
    this.dropped(connection.url, code, reason, connection.welcomed);
  }

  /** After a socket closed or an attempt failed: stop for good, or retry later on the next URL. */
  private dropped(url: string, code: number, reason: string, wasOpen: boolean): void {
    const info = { code, reason, url, wasOpen };
    const stop = finalReason(code, reason, {
      renewToken: this.tokens.renewable,
      reconnect: this.settings.reconnect,
    });
    if (stop) {
      this.emit("disconnect", info);
      this.stop(stop);
      return;
    }
    const retryInMs = backoffDelay(this.failures++, {
      minMs: this.settings.reconnectMinMs,
      maxMs: this.settings.reconnectMaxMs,
    });
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.requests.disconnected(
      this.settings.whileDisconnected,
      `${url} closed with ${code}${reason ? `: ${reason}` : ""}`,
      mayResend(code),
    );
    this.setState("reconnecting");
    this.emit("disconnect", { ...info, retryInMs });
    if (this.final) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, retryInMs);
  }

  private stop(info: ClosedInfo): void {
    if (this.final) return;
    this.final = info;
    clearTimeout(this.retryTimer);
    const connection = this.connection;
    this.connection = null;
    if (connection) {
      clearTimeout(connection.timer);
      connection.ws.close(CLOSE.normal, "closed by the client");
    }
    this.requests.failAll(info.code, info.message);
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.finalError());
    this.setState("closed");
    this.emit("closed", info);
  }

  private finalError(msgId?: number): GamedockClientError {
    const info = this.final!;
    return new GamedockClientError(info.code, info.message, { msgId });
  }

  // --- what the gateway sends -----------------------------------------------------

  private onData(connection: Connection, data: unknown): void {
    const frame = decodeServerFrame(data);
    switch (frame.kind) {
      case "reply":
        this.requests.settle(frame.seq, frame.code, frame.body, this.settings.whileDisconnected);
        return;
      case "push":
        this.onPush(connection, frame.head, frame.body);
        return;
      case "error": {
        const message = (frame.body as { message?: unknown } | null)?.message;
        this.report(
          frame.code,
          typeof message === "string" ? message : `the gateway refused a frame (${frame.code})`,
        );
        return;
      }
      case "invalid":
        this.report(CLIENT_ERRORS.protocol, `${connection.url} sent ${frame.message}`);
    }
  }

  private onPush(connection: Connection, head: PushHead, body: unknown): void {
    if (head.msgId === MSG.welcome) {
      this.onWelcome(connection, body);
      return;
    }
    if (head.msgId === MSG.membership) {
      const change = parseMembership(body);
      if (!change) {
        this.report(
          CLIENT_ERRORS.protocol,
          `${connection.url} sent a membership frame without a body`,
        );
        return;
      }
      this.points.membership(change);
      this.emit("membership", change);
      return;
    }
    if (!this.points.accept(head)) return; // already delivered (replay overlapping live)
    this.listeners.emit(head.msgId, body, head);
    this.emit("push", body, head);
  }

  private onWelcome(connection: Connection, body: unknown): void {
    if (connection.welcomed) return;
    const welcome = parseWelcome(body);
    if (!welcome) {
      this.report(
        CLIENT_ERRORS.protocol,
        `${connection.url} sent a welcome the client cannot read`,
      );
      this.abandon(connection, "an unreadable welcome");
      return;
    }
    clearTimeout(connection.timer);
    connection.welcomed = true;
    this.points.welcome(welcome);
    this.failures = 0;
    this.lastWelcome = welcome;
    const previous = this.current;
    this.current = "open";
    // Queued requests go first, in order, before any listener can add newer ones.
    for (const request of this.requests.queued()) this.transmit(request);
    this.emit("state", { state: "open", previous });
    for (const waiter of this.waiters.splice(0)) waiter.resolve(welcome);
    // A listener may have closed the client: say nothing more of this connection then.
    if (this.connection !== connection) return;
    this.emit("welcome", welcome);
    if (!welcome.recovered && this.connection === connection) this.emit("resync", welcome);
  }

  // --- events -------------------------------------------------------------------

  private setState(state: ClientState): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    this.emit("state", { state, previous });
  }

  private emit<E extends ClientEventName>(event: E, ...args: Parameters<ClientEvents[E]>): void {
    this.listeners.emit(event, ...args);
  }

  private report(code: string, message: string): void {
    this.emit("error", new GamedockClientError(code, message));
  }

  private listenerFailed(err: unknown, key: ClientEventName | number): void {
    if (key !== "error" && this.listeners.has("error")) {
      const which = typeof key === "number" ? `msgId ${key}` : `"${key}"`;
      this.emit(
        "error",
        new GamedockClientError(
          CLIENT_ERRORS.listener,
          `a listener of ${which} threw: ${describe(err)}`,
          {
            cause: err,
          },
        ),
      );
      return;
    }
    // Nobody listens for errors: rethrow outside the client, where the platform reports it.
    setTimeout(() => {
      throw err;
    }, 0);
  }
}
