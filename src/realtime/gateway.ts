/**
 * The WebSocket gateway: authenticates connections (JWT), turns their frames
 * into requests on their logic group's stream, and delivers the replies
 * that come back on its own stream (`l2c`) to the right socket.
 *
 * Malformed frames are answered here and never reach the bus. A frame over
 * maxFrameBytes closes the socket with 1009 (ws enforces it before
 * buffering more). On stop (drain), new connections are refused, requests
 * in flight get their replies, new ones are answered E_DRAINING, and each
 * socket is closed with 1012 once nothing is in flight for it (or at the
 * drain timeout) so clients reconnect elsewhere.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { busKeys, TurnBatch, type Bus, type BusReader } from "../bus/index.js";
import { isGamedockError } from "../core/index.js";
import type { Authenticator, TokenClaims } from "./auth.js";
import {
  decodeGatewayEnvelope,
  encodeEnvelope,
  type GatewayEnvelope,
  type MembershipEnvelope,
  type PushEnvelope,
} from "./envelope.js";
import { MAX_GROUPS_PER_UID } from "./groups.js";
import type { HandlerLog } from "./handlers.js";
import { GATEWAYS_PRESENCE, groupPresence } from "./names.js";
import { everySlice, sliceOf } from "./slices.js";
import type { Pusher } from "./push.js";
import { groupResumePoints, replay, resumePoint, type Replay } from "./resume.js";
import {
  CLOSE,
  PROTOCOL_MSG,
  SUBPROTOCOLS,
  codecFor,
  parseClientFrame,
  type Codec,
  type Frame,
} from "./protocol.js";

export const GATEWAY_GROUP = "gateway";

export interface GatewayOptions {
  bus: Bus;
  authenticator: Authenticator;
  /** Unique per running gateway: its stream is `l2c:{gatewayId}`. */
  gatewayId: string;
  defaultGroup: string;
  maxFrameBytes: number;
  /** The URL path of the socket. */
  path: string;
  /** Reads the histories a reconnecting client resumes from. */
  pusher: Pusher;
  /** Presence entries (uid → this gateway, and the gateway itself) live this long unless refreshed. */
  presenceTtlMs: number;
  /** At stop, how long to wait for the replies of requests in flight. */
  drainTimeoutMs: number;
  limits: GatewayLimits;
  log: HandlerLog;
}

export interface GatewayLimits {
  /** Open sockets; one more is closed with 1013. */
  maxConnections: number;
  /** Frames per second per connection (token bucket refill), and the bucket's size. */
  ratePerSecond: number;
  rateBurst: number;
  /** Bytes waiting to be sent to one socket; past this the client is too slow: 1013. */
  maxBufferedBytes: number;
  /** A ping this often; a peer that has not answered the previous one is dropped. */
  pingIntervalMs: number;
  /** Origins a browser may connect from; empty: any. Clients sending no Origin are not browsers. */
  allowedOrigins: readonly string[];
}

interface Connection {
  id: string;
  socket: WebSocket;
  codec: Codec;
  claims: TokenClaims;
  group: string;
  ip: string;
  expiry: NodeJS.Timeout | null;
  /** The newest offset sent of the user's history, and of the broadcast one (dedupe, order). */
  userOffset: number;
  allOffset: number;
  /** Application group → the newest offset sent of its history. */
  groups: Map<string, number>;
  /** Live pushes held back while missed ones are replayed (welcome, a join); null when none is. */
  held: PushEnvelope[] | null;
  /** Replays under way; `held` is sent when the last ends. */
  replays: number;
  /** When the socket was let in (ms since the epoch). */
  since: number;
  /** Token bucket: frames it may still send now, and when it was last refilled. */
  tokens: number;
  refilledAt: number;
  /** Frames refused in a row for the rate; past rateBurst more the socket is closed with 4429. */
  refusedInRow: number;
  /** Answered the last ping. */
  alive: boolean;
  /** Which slice of the pings it is in (slices.ts). */
  slice: number;
  /** Requests queued for a worker and not yet answered (a drain waits for them). */
  inFlight: number;
}

const READ_BLOCK_MS = 1000;
const READ_COUNT = 256;
/** Trim the gateway's stream after this many delivered entries. */
const TRIM_EVERY = 1024;
/** setTimeout's ceiling (~24.8 days); a later expiry is re-armed when reached. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Which history a push belongs to. */
type StreamRef = { stream: "user" | "all" } | { stream: "group"; group: string };

/** Connections listed in the gateway's status record (the operations API). */
const STATUS_CONNECTIONS = 200;

/** What a gateway publishes about itself for the operations API. */
export interface GatewayStatus {
  gatewayId: string;
  startedAt: string;
  updatedAt: string;
  connections: number;
  uids: number;
  groups: number;
  /** Frames received from clients since the gateway started (refused ones included). */
  messagesIn: number;
  /** Frames sent to clients since the gateway started: replies, pushes, welcomes, error frames. */
  messagesOut: number;
  /** The first connections, oldest first (at most 200). */
  listed: { connId: string; uid: string; group: string; ip: string; since: string }[];
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, Connection>();
  /** uid → its connections on this gateway. */
  private readonly byUid = new Map<string, Set<Connection>>();
  /** Application group → its members' connections on this gateway. */
  private readonly byGroup = new Map<string, Set<Connection>>();
  private readonly startedAt = new Date();
  private heartbeat: NodeJS.Timeout | null = null;
  private pinger: NodeJS.Timeout | null = null;
  private reader: BusReader | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  /** Set when a drain is over: the delivery loop ends (while draining it still delivers replies). */
  private readerClosed = false;
  /** Resolves when the last connection with requests in flight got their replies (during a drain). */
  private drained: (() => void) | null = null;
  private deliveredSinceTrim = 0;
  /** Frames received from and sent to clients since start (the status record's counters). */
  private messagesIn = 0;
  private messagesOut = 0;
  /** Requests read from the sockets in one event-loop turn go to their logic group's stream in one call. */
  private readonly requests: TurnBatch<string, Buffer, string>;

  constructor(private readonly options: GatewayOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes,
      handleProtocols: (offered) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
    this.requests = new TurnBatch((stream, payloads) => options.bus.appendMany(stream, payloads));
  }

  get stream(): string {
    return busKeys.gatewayStream(this.options.gatewayId);
  }

  /** Starts delivering what comes back on the gateway's stream. */
  async start(): Promise<void> {
    this.reader = await this.options.bus.reader();
    await this.reader.join(this.stream, GATEWAY_GROUP, "begin");
    this.loop = this.deliverLoop(this.reader);
    await this.refreshPresence(null);
    await this.options.bus.addMember(busKeys.gatewayRegistry(), this.options.gatewayId);
    this.heartbeat = everySlice(
      Math.max(100, Math.floor(this.options.presenceTtlMs / 3)),
      (slice) => this.refreshPresence(slice),
    );
    this.pinger = everySlice(this.options.limits.pingIntervalMs, (slice) => {
      this.ping(slice);
    });
  }

  /**
   * Pings one slice of the connections, dropping those that did not answer
   * their previous ping (dead networks never send a close). Each connection
   * is pinged once per pingIntervalMs.
   */
  private ping(slice: number): void {
    for (const connection of this.connections.values()) {
      if (connection.slice !== slice) continue;
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  /**
   * Keeps its uids and groups of one slice (null: all) in the presence map
   * (pushes find them there); with slice 0 also the gateway itself, its
   * status record, and the removal of what gateways that died left behind.
   * Each uid is refreshed once per presenceTtlMs / 3.
   */
  private async refreshPresence(slice: number | null): Promise<void> {
    const { bus, gatewayId, presenceTtlMs } = this.options;
    const inSlice = (key: string): boolean => slice === null || sliceOf(key) === slice;
    try {
      await bus.touchPresence(
        [
          ...[...this.byUid.keys()].filter(inSlice),
          ...[...this.byGroup.keys()].filter(inSlice).map(groupPresence),
        ],
        gatewayId,
        presenceTtlMs,
      );
      if (slice !== null && slice !== 0) return;
      await bus.touchPresence([GATEWAYS_PRESENCE], gatewayId, presenceTtlMs);
      await bus.putRecord(
        busKeys.gatewayStatus(gatewayId),
        Buffer.from(JSON.stringify(this.status())),
        presenceTtlMs,
      );
      await this.removeDeadGateways();
    } catch (err) {
      this.options.log.warn({ err }, "refreshing presence failed");
    }
  }

  status(): GatewayStatus {
    const listed = [...this.connections.values()].slice(0, STATUS_CONNECTIONS).map((c) => ({
      connId: c.id,
      uid: c.claims.uid,
      group: c.group,
      ip: c.ip,
      since: new Date(c.since).toISOString(),
    }));
    return {
      gatewayId: this.options.gatewayId,
      startedAt: this.startedAt.toISOString(),
      updatedAt: new Date().toISOString(),
      connections: this.connections.size,
      uids: this.byUid.size,
      groups: this.byGroup.size,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      listed,
    };
  }

  /**
   * A gateway that died (SIGKILL, a lost machine) leaves its stream, with
   * its consumer group, and its registry entry; its presence entries expire
   * on their own. Every gateway looks for such leftovers: registered but no
   * longer present. A live gateway re-registers at each refresh, so one that
   * only missed refreshes for a while comes back.
   */
  private async removeDeadGateways(): Promise<void> {
    const { bus, log } = this.options;
    const registered = await bus.members(busKeys.gatewayRegistry());
    const alive = new Set((await bus.presence([GATEWAYS_PRESENCE])).get(GATEWAYS_PRESENCE) ?? []);
    for (const dead of registered.filter((id) => !alive.has(id))) {
      await bus.deleteStream(busKeys.gatewayStream(dead));
      await bus.deleteRecord(busKeys.gatewayStatus(dead));
      await bus.removeMember(busKeys.gatewayRegistry(), dead);
      log.info({ event: "gateway-cleaned", gatewayId: dead }, "removed a dead gateway's stream");
    }
    await bus.addMember(busKeys.gatewayRegistry(), this.options.gatewayId);
  }

  /** Takes the HTTP server's upgrades to `path`; others are left to other listeners. */
  attach(server: Server): void {
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(request.url ?? "/", "http://gateway");
      if (url.pathname !== this.options.path) return;
      if (this.stopping) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
        return;
      }
      const origin = request.headers.origin;
      const allowed = this.options.limits.allowedOrigins;
      if (origin !== undefined && allowed.length > 0 && !allowed.includes(origin)) {
        socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => void this.accept(ws, request, url));
    });
  }

  private async accept(socket: WebSocket, request: IncomingMessage, url: URL): Promise<void> {
    const codec = codecFor(socket.protocol || undefined);
    if (this.connections.size >= this.options.limits.maxConnections) {
      socket.close(CLOSE.tryAgainLater, "this gateway is full; reconnect elsewhere");
      return;
    }
    // Frames the client sends at once arrive while the token is checked: keep them, in order.
    const early: [Buffer, boolean][] = [];
    // At most a burst of them: a client flooding before it is let in is closed (4429).
    const keep = (data: Buffer, isBinary: boolean): void => {
      if (early.length >= this.options.limits.rateBurst) {
        socket.close(CLOSE.rateLimited, "too many messages before the token was checked");
        return;
      }
      early.push([data, isBinary]);
    };
    socket.on("message", keep);
    // ws reports a protocol violation (a frame over maxPayload: it closes with 1009) as an error.
    socket.on("error", (err) => {
      this.options.log.warn({ err: err.message, ip: request.socket.remoteAddress }, "socket error");
    });
    const token = url.searchParams.get("token") ?? bearer(request.headers.authorization);
    let claims: TokenClaims;
    try {
      if (!token)
        throw new Error("no token: connect with ?token=<jwt> or Authorization: Bearer <jwt>");
      claims = await this.options.authenticator.verify(token);
    } catch (err) {
      socket.close(CLOSE.unauthorized, closeReason(err));
      return;
    }
    socket.off("message", keep);
    const id = randomBytes(9).toString("base64url");
    const connection: Connection = {
      id,
      socket,
      codec,
      claims,
      group: claims.group ?? this.options.defaultGroup,
      ip: request.socket.remoteAddress ?? "",
      expiry: null,
      userOffset: 0,
      allOffset: 0,
      groups: new Map(),
      held: [],
      replays: 1,
      since: Date.now(),
      tokens: this.options.limits.rateBurst,
      refilledAt: Date.now(),
      refusedInRow: 0,
      alive: true,
      slice: sliceOf(id),
      inFlight: 0,
    };
    socket.on("pong", () => {
      connection.alive = true;
    });
    this.connections.set(connection.id, connection);
    const mine = this.byUid.get(claims.uid) ?? new Set<Connection>();
    mine.add(connection);
    this.byUid.set(claims.uid, mine);
    this.armExpiry(connection);
    socket.on("message", (data: Buffer, isBinary) => void this.onFrame(connection, data, isBinary));
    socket.on("close", () => {
      this.forget(connection);
    });
    try {
      await this.welcome(connection, url);
    } catch (err) {
      this.options.log.error({ err, connId: connection.id }, "welcome failed");
      socket.close(CLOSE.tryAgainLater, "the gateway cannot reach its bus; reconnect");
      return;
    }
    for (const [data, isBinary] of early) void this.onFrame(connection, data, isBinary);
  }

  /**
   * Registers the uid's presence, then reads the histories: a push appended
   * after the read finds the presence and comes live; one before it is in
   * the replay (and its live copy, if any, is dropped by offset). Live
   * pushes wait in `held` until the replay is sent.
   */
  private async welcome(connection: Connection, url: URL): Promise<void> {
    const { bus, gatewayId, presenceTtlMs, pusher } = this.options;
    const uid = connection.claims.uid;
    await bus.touchPresence([uid], gatewayId, presenceTtlMs);
    const user = await replay(pusher.userHistory(uid), resumePoint(url, "lastOffset", "epoch"));
    const all = await replay(pusher.broadcastHistory(), resumePoint(url, "allOffset", "allEpoch"));
    const names = (await bus.members(busKeys.userGroups(uid))).sort().slice(0, MAX_GROUPS_PER_UID);
    const points = groupResumePoints(url);
    const groups = new Map<string, Replay>();
    // Each group: its presence first, then its history (the order welcome keeps for the user's).
    const replays = await Promise.all(
      names.map(async (group) => {
        await this.enterGroup(connection, group);
        return replay(pusher.groupHistory(group), points.get(group) ?? null);
      }),
    );
    names.forEach((group, i) => groups.set(group, replays[i]!));
    this.send(connection, [
      { msgId: PROTOCOL_MSG.welcome, push: true },
      {
        uid,
        group: connection.group,
        connId: connection.id,
        gatewayId,
        epoch: user.position.epoch,
        offset: user.position.offset,
        allEpoch: all.position.epoch,
        allOffset: all.position.offset,
        groups: Object.fromEntries(
          [...groups].map(([group, r]) => [
            group,
            { epoch: r.position.epoch, offset: r.position.offset },
          ]),
        ),
        recovered:
          user.recovered && all.recovered && [...groups.values()].every((r) => r.recovered),
      },
    ]);
    this.sendMissed(connection, user, { stream: "user" });
    this.sendMissed(connection, all, { stream: "all" });
    for (const [group, missed] of groups)
      this.sendMissed(connection, missed, { stream: "group", group });
    this.endReplay(connection);
  }

  /** Sends a replay's pushes and records that the connection holds up to its position. */
  private sendMissed(connection: Connection, missed: Replay, to: StreamRef): void {
    for (const { offset, record } of missed.missed) {
      this.send(connection, [{ msgId: record.msgId, push: true, ...to, offset }, record.body]);
    }
    const held = this.heldOffset(connection, to);
    this.setHeldOffset(connection, to, Math.max(held, missed.position.offset));
  }

  private heldOffset(connection: Connection, to: StreamRef): number {
    if (to.stream === "group") return connection.groups.get(to.group) ?? 0;
    return to.stream === "user" ? connection.userOffset : connection.allOffset;
  }

  private setHeldOffset(connection: Connection, to: StreamRef, offset: number): void {
    if (to.stream === "group") {
      if (connection.groups.has(to.group)) connection.groups.set(to.group, offset);
    } else if (to.stream === "user") connection.userOffset = offset;
    else connection.allOffset = offset;
  }

  /** Counts the connection among the group's here and registers the group's presence. */
  private async enterGroup(connection: Connection, group: string): Promise<void> {
    connection.groups.set(group, connection.groups.get(group) ?? 0);
    let members = this.byGroup.get(group);
    if (!members) this.byGroup.set(group, (members = new Set()));
    members.add(connection);
    const { bus, gatewayId, presenceTtlMs } = this.options;
    await bus.touchPresence([groupPresence(group)], gatewayId, presenceTtlMs);
  }

  private leaveGroup(connection: Connection, group: string): void {
    connection.groups.delete(group);
    const members = this.byGroup.get(group);
    members?.delete(connection);
    if (members?.size !== 0) return;
    this.byGroup.delete(group);
    this.options.bus
      .leavePresence(groupPresence(group), this.options.gatewayId)
      .catch((err: unknown) => {
        this.options.log.warn({ err, group }, "leaving a group's presence failed");
      });
  }

  private startReplay(connection: Connection): void {
    connection.replays += 1;
    connection.held ??= [];
  }

  /** Sends the live pushes held during the replays once the last ends. */
  private endReplay(connection: Connection): void {
    connection.replays -= 1;
    if (connection.replays > 0) return;
    const held = connection.held ?? [];
    connection.held = null;
    for (const push of held) this.deliverPush(connection, push);
  }

  /** A uid joined or left a group: its connections here follow (joins replay from the join). */
  private async changeMembership(envelope: MembershipEnvelope): Promise<void> {
    for (const connection of this.byUid.get(envelope.uid) ?? []) {
      const { group } = envelope;
      if (!envelope.joined) {
        if (!connection.groups.has(group)) continue;
        this.leaveGroup(connection, group);
        this.send(connection, [
          { msgId: PROTOCOL_MSG.membership, push: true },
          { joined: {}, left: [group] },
        ]);
        continue;
      }
      if (connection.groups.has(group) || !envelope.position) continue;
      this.startReplay(connection);
      try {
        await this.enterGroup(connection, group);
        const missed = await replay(this.options.pusher.groupHistory(group), envelope.position);
        const { epoch, offset } = envelope.position;
        this.send(connection, [
          { msgId: PROTOCOL_MSG.membership, push: true },
          { joined: { [group]: { epoch, offset } }, left: [] },
        ]);
        this.sendMissed(connection, missed, { stream: "group", group });
      } catch (err) {
        this.options.log.error({ err, group, connId: connection.id }, "joining a group failed");
      } finally {
        this.endReplay(connection);
      }
    }
  }

  private forget(connection: Connection): void {
    if (connection.expiry) clearTimeout(connection.expiry);
    this.connections.delete(connection.id);
    for (const group of [...connection.groups.keys()]) this.leaveGroup(connection, group);
    if (this.stopping && ![...this.connections.values()].some((c) => c.inFlight > 0))
      this.drained?.();
    const uid = connection.claims.uid;
    const mine = this.byUid.get(uid);
    mine?.delete(connection);
    if (mine?.size === 0) {
      this.byUid.delete(uid);
      this.options.bus.leavePresence(uid, this.options.gatewayId).catch((err: unknown) => {
        this.options.log.warn({ err, uid }, "leaving presence failed");
      });
    }
  }

  /** A push to one connection, in offset order, each offset once. */
  private deliverPush(connection: Connection, push: PushEnvelope): void {
    if (connection.held) {
      connection.held.push(push);
      return;
    }
    // A member that left (or has not joined yet) gets none of the group's pushes.
    if (push.stream === "group" && !connection.groups.has(push.group)) return;
    const to: StreamRef =
      push.stream === "group"
        ? { stream: push.stream, group: push.group }
        : { stream: push.stream };
    const offset =
      push.stream === "user"
        ? push.targets.find((t) => t.uid === connection.claims.uid)?.offset
        : push.offset;
    if (offset !== undefined) {
      if (offset <= this.heldOffset(connection, to)) return;
      this.setHeldOffset(connection, to, offset);
    }
    const head = {
      msgId: push.msgId,
      push: true,
      ...to,
      ...(offset === undefined ? {} : { offset }),
    };
    this.send(connection, [head, push.body]);
  }

  /** Closes with 4401 at the token's `exp`, unless a refresh moved it. */
  private armExpiry(connection: Connection): void {
    if (connection.expiry) clearTimeout(connection.expiry);
    connection.expiry = null;
    const exp = connection.claims.exp;
    // A connection already forgotten (closed while a token refresh was checked) needs no timer.
    if (exp === undefined || !this.connections.has(connection.id)) return;
    const left = exp * 1000 - Date.now();
    connection.expiry = setTimeout(
      () => {
        if (connection.claims.exp !== exp) return;
        if (left > MAX_TIMER_MS) {
          this.armExpiry(connection);
          return;
        }
        connection.socket.close(
          CLOSE.unauthorized,
          "the token has expired; reconnect with a new one",
        );
      },
      Math.min(Math.max(left, 0), MAX_TIMER_MS),
    );
    // The server keeps the process alive while it serves; a timer of a connection must not.
    connection.expiry.unref();
  }

  /** Takes a token from the connection's bucket; false (and an error frame, or 4429) when empty. */
  private withinRate(connection: Connection): boolean {
    const { ratePerSecond, rateBurst } = this.options.limits;
    const now = Date.now();
    connection.tokens = Math.min(
      rateBurst,
      connection.tokens + ((now - connection.refilledAt) / 1000) * ratePerSecond,
    );
    connection.refilledAt = now;
    if (connection.tokens >= 1) {
      connection.tokens -= 1;
      connection.refusedInRow = 0;
      return true;
    }
    connection.refusedInRow += 1;
    if (connection.refusedInRow > rateBurst) {
      connection.socket.close(CLOSE.rateLimited, "too many messages; slow down and reconnect");
    } else if (connection.refusedInRow === 1) {
      this.send(connection, [
        { msgId: PROTOCOL_MSG.error, push: true, code: "E_RATE_LIMITED" },
        {
          message: `more than ${ratePerSecond} messages a second: this one and those until the rate drops are refused`,
        },
      ]);
    }
    return false;
  }

  private async onFrame(connection: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    this.messagesIn += 1;
    if (!this.withinRate(connection)) return;
    let decoded: unknown;
    try {
      decoded = connection.codec.decode(data, isBinary);
    } catch (err) {
      this.refuse(
        connection,
        undefined,
        undefined,
        `not a ${connection.codec.subprotocol} frame: ${(err as Error).message}`,
      );
      return;
    }
    const frame = parseClientFrame(decoded);
    if (frame.kind === "invalid") {
      this.refuse(connection, frame.seq, frame.msgId, frame.message);
      return;
    }
    if (frame.kind === "tokenRefresh") {
      await this.refresh(connection, frame.head.seq, frame.token);
      return;
    }
    if (this.stopping) {
      this.send(connection, [
        { msgId: frame.head.msgId, seq: frame.head.seq, code: "E_DRAINING" },
        { message: "the gateway is shutting down: send this again once reconnected" },
      ]);
      return;
    }
    const envelope = encodeEnvelope({
      head: {
        ...frame.head,
        uid: connection.claims.uid,
        connId: connection.id,
        gatewayId: this.options.gatewayId,
        ip: connection.ip,
        ts: Date.now(),
      },
      body: frame.body,
    });
    try {
      connection.inFlight += 1;
      await this.requests.add(busKeys.requests(connection.group), envelope);
    } catch (err) {
      this.settled(connection);
      this.options.log.error({ err, connId: connection.id }, "request not queued");
      this.send(connection, [
        {
          msgId: frame.head.msgId,
          seq: frame.head.seq,
          code: isGamedockError(err) ? err.code : "E_INTERNAL",
        },
        { message: "the request could not be queued; retry" },
      ]);
    }
  }

  private async refresh(connection: Connection, seq: number, token: string): Promise<void> {
    const reply = (code: 0 | string, body: unknown): void => {
      this.send(connection, [{ msgId: PROTOCOL_MSG.tokenRefresh, seq, code }, body]);
    };
    try {
      const claims = await this.options.authenticator.verify(token);
      if (claims.uid !== connection.claims.uid) {
        reply("E_TOKEN_INVALID", { message: "the new token is for another uid" });
        return;
      }
      connection.claims = { ...connection.claims, exp: claims.exp };
      this.armExpiry(connection);
      reply(0, { exp: claims.exp ?? null });
    } catch (err) {
      reply("E_TOKEN_INVALID", { message: closeReason(err) });
    }
  }

  /** An error frame: answered by seq when the frame had one, else msgId 3. */
  private refuse(
    connection: Connection,
    seq: number | undefined,
    msgId: number | undefined,
    message: string,
  ): void {
    const head =
      seq === undefined
        ? { msgId: PROTOCOL_MSG.error, push: true, code: "E_FRAME_INVALID" }
        : { msgId: msgId ?? PROTOCOL_MSG.error, seq, code: "E_FRAME_INVALID" };
    this.send(connection, [head, { message }]);
  }

  private send(connection: Connection, frame: Frame): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    if (connection.socket.bufferedAmount > this.options.limits.maxBufferedBytes) {
      // The client does not read: holding more for it would grow without bound.
      if (connection.socket.readyState === connection.socket.OPEN) {
        this.options.log.warn(
          { event: "slow-consumer", connId: connection.id, uid: connection.claims.uid },
          "closing a socket whose client does not read",
        );
      }
      connection.socket.close(CLOSE.tryAgainLater, "the client reads too slowly; reconnect");
      return;
    }
    this.messagesOut += 1;
    connection.socket.send(connection.codec.encode(frame), { binary: connection.codec.binary });
  }

  private async deliverLoop(reader: BusReader): Promise<void> {
    const { bus, log, gatewayId } = this.options;
    for (;;) {
      let entries;
      try {
        entries = await reader.read(this.stream, GATEWAY_GROUP, gatewayId, {
          count: READ_COUNT,
          blockMs: READ_BLOCK_MS,
          // Nothing to acknowledge: no other process could deliver this gateway's entries.
          noAck: true,
        });
      } catch (err) {
        if (this.readerClosed) return;
        log.error({ err }, "reading replies failed; retrying");
        await new Promise((r) => setTimeout(r, 1000));
        // The stream may be gone (removed as a dead gateway's while the bus was out of reach).
        await reader.join(this.stream, GATEWAY_GROUP, "begin").catch(() => undefined);
        continue;
      }
      if (entries.length === 0) {
        if (this.readerClosed) return;
        continue;
      }
      for (const entry of entries) {
        let envelope: GatewayEnvelope;
        try {
          envelope = decodeGatewayEnvelope(entry.payload);
        } catch (err) {
          log.error({ err, entryId: entry.id }, "undecodable reply dropped");
          continue;
        }
        this.dispatch(envelope);
      }
      this.deliveredSinceTrim += entries.length;
      if (this.deliveredSinceTrim >= TRIM_EVERY) {
        this.deliveredSinceTrim = 0;
        await bus.trimAcknowledged(this.stream).catch((err: unknown) => {
          log.warn({ err }, "trimming the gateway stream failed");
        });
      }
    }
  }

  private dispatch(envelope: GatewayEnvelope): void {
    switch (envelope.kind) {
      case "reply": {
        const connection = this.connections.get(envelope.connId);
        if (connection) {
          this.send(connection, [envelope.head, envelope.body]);
          this.settled(connection);
        }
        return;
      }
      case "membership":
        // Joins read the group's history: they go on while the next entries are delivered.
        void this.changeMembership(envelope);
        return;
      case "kick":
        for (const connection of this.byUid.get(envelope.uid) ?? []) {
          this.options.log.info(
            { event: "kicked", uid: envelope.uid, connId: connection.id },
            "closing a kicked uid's connection",
          );
          connection.socket.close(CLOSE.kicked, closeReason(envelope.reason));
        }
        return;
      case "push":
        if (envelope.stream === "all") {
          for (const connection of this.connections.values())
            this.deliverPush(connection, envelope);
        } else if (envelope.stream === "group") {
          for (const connection of this.byGroup.get(envelope.group) ?? [])
            this.deliverPush(connection, envelope);
        } else {
          for (const { uid } of envelope.targets) {
            for (const connection of this.byUid.get(uid) ?? [])
              this.deliverPush(connection, envelope);
          }
        }
    }
  }

  /** A request of the connection was answered; during a drain, its socket may close now. */
  private settled(connection: Connection): void {
    connection.inFlight = Math.max(0, connection.inFlight - 1);
    if (!this.stopping || connection.inFlight > 0) return;
    this.closeForRestart(connection);
    if (![...this.connections.values()].some((c) => c.inFlight > 0)) this.drained?.();
  }

  private closeForRestart(connection: Connection): void {
    connection.socket.close(CLOSE.restart, "the gateway is restarting; reconnect");
  }

  /**
   * Drains: refuses new sockets and new requests (E_DRAINING), closes each
   * socket with 1012 once its requests in flight are answered — at once for
   * most — or at drainTimeoutMs, then stops reading. ws sends what a socket
   * has buffered before its close frame.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.pinger) clearInterval(this.pinger);
    const busy = [...this.connections.values()].filter((c) => c.inFlight > 0);
    for (const connection of this.connections.values()) {
      if (connection.inFlight === 0) this.closeForRestart(connection);
    }
    if (busy.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, this.options.drainTimeoutMs);
      });
      clearTimeout(timer);
      for (const connection of this.connections.values()) this.closeForRestart(connection);
    }
    this.readerClosed = true;
    await this.reader?.close();
    await this.loop;
    this.wss.close();
    const { bus, gatewayId } = this.options;
    await Promise.all(
      [GATEWAYS_PRESENCE, ...this.byUid.keys(), ...[...this.byGroup.keys()].map(groupPresence)].map(
        (name) => bus.leavePresence(name, gatewayId),
      ),
    ).catch(() => undefined);
    await bus.deleteStream(this.stream).catch(() => undefined);
    await bus.deleteRecord(busKeys.gatewayStatus(gatewayId)).catch(() => undefined);
    await bus.removeMember(busKeys.gatewayRegistry(), gatewayId).catch(() => undefined);
  }
}

function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

/** A close reason: at most 123 bytes (RFC 6455), never the token. */
function closeReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}
