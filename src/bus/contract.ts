/**
 * The message bus contract, in gamedock's terms: what the realtime gateway
 * and the logic workers need from a bus, and what every driver promises.
 *
 * - **Work streams** (`c2l:{group}`, `l2c:{gatewayId}`): entries appended
 *   once, read through named consumer groups — each entry goes to one
 *   consumer of a group — and acknowledged after they were handled. An entry
 *   a consumer took and never acknowledged (it died) stays pending and is
 *   claimed by another after an idle time. They are trimmed only of what
 *   every group has acknowledged.
 * - **Histories** (`user:{uid}`, a group's, the broadcast one): bounded by
 *   length and age, every entry numbered with an increasing integer offset,
 *   under an epoch that changes when the history was lost, so a reader can
 *   tell "nothing missed" from "cannot say".
 * - **Presence**: which gateways hold a uid, each entry expiring unless
 *   refreshed.
 * - **Markers**: short-lived keys that make an append happen once.
 * - **Sets**: durable sets of names (a uid's application groups, the
 *   gateways ever started), kept until removed.
 * - **Records**: small values that expire unless rewritten (a gateway's
 *   status for the operations API).
 *
 * Stream, history and marker names are the bus's own (see keys.ts): the
 * driver puts its prefix in front. Names built by keys.ts carry a hash tag,
 * and a call that names several keys (appendOnce) takes keys of one tag, so
 * the Redis driver works on Redis Cluster.
 */

export type BusDriverName = "memory" | "redis";

export type BusConfig =
  | { driver: "memory" }
  | {
      driver: "redis";
      /** redis:// or rediss:// */
      url: string;
      /** Put before every key, then ":"; no braces, no spaces. */
      prefix: string;
    };

/** An entry to append unless its marker is set (appendOnceMany). */
export interface OnceItem {
  payload: Buffer;
  marker: string;
}

/** An entry of a work stream as a consumer receives it. */
export interface BusEntry {
  /** The stream's id, "<ms>-<seq>": increasing in append order. */
  id: string;
  payload: Buffer;
  /** True when this consumer took it over from another (claimIdle): it may have been handled. */
  redelivered: boolean;
}

export interface ReadOptions {
  /** At most this many entries (≥ 1). */
  count: number;
  /** Wait this long for a first entry when none is there (ms; 0 = do not wait). */
  blockMs: number;
  /**
   * Deliver without keeping the entries pending (nothing to acknowledge,
   * nothing to claim): for a consumer whose entries no other could take over
   * when it dies — a gateway's own stream, gone with the gateway.
   */
  noAck?: boolean;
}

export interface ClaimOptions {
  /** Only entries pending for at least this long (ms) — their consumer is presumed dead. */
  minIdleMs: number;
  count: number;
}

export interface ConsumerInfo {
  name: string;
  /** Entries it took and has not acknowledged. */
  pending: number;
  /** Since its last read or acknowledgement (ms). */
  idleMs: number;
}

export interface GroupInfo {
  name: string;
  /** Entries delivered to a consumer and not acknowledged. */
  pending: number;
  /** Entries not yet delivered to any consumer of the group. */
  lag: number;
  consumers: ConsumerInfo[];
}

/**
 * A consumer of a work stream. Each reader holds what it needs to block
 * (the Redis driver: a connection of its own); close it when done.
 */
export interface BusReader {
  /** Creates the group when it does not exist: "begin" reads the stream from its start, "end" only what comes next. */
  join(stream: string, group: string, from: "begin" | "end"): Promise<void>;
  /** New entries for this consumer (never delivered to the group before); [] after blockMs. */
  read(stream: string, group: string, consumer: string, options: ReadOptions): Promise<BusEntry[]>;
  /** Ends a blocked read at once (it resolves []) and frees the reader. */
  close(): Promise<void>;
}

export interface HistoryLimits {
  /** Entries kept (≥ 1); the oldest go first. */
  maxLength: number;
  /** Entries older than this are dropped (ms). */
  maxAgeMs: number;
}

export interface HistoryPosition {
  /** Changes when the history was lost (the bus restarted empty, it expired). */
  epoch: string;
  /** The offset of the newest entry; 0 when there is none yet. */
  offset: number;
}

export interface HistoryEntry {
  offset: number;
  payload: Buffer;
}

export interface HistoryRead extends HistoryPosition {
  /** Entries after the asked offset, oldest first. */
  entries: HistoryEntry[];
  /**
   * True when `entries` start right after the asked offset (nothing between
   * was trimmed) and the history is still the asked epoch: the reader missed
   * nothing. False when it cannot say.
   */
  complete: boolean;
}

/**
 * A bounded, numbered history. Its epoch lives as long as entries could: a
 * history untouched for maxAgeMs is gone, and the next call starts a new
 * epoch.
 */
export interface History {
  readonly name: string;
  /** Appends with the next offset, then trims to the limits. */
  append(payload: Buffer): Promise<HistoryPosition>;
  /** Entries with an offset above `after.offset`, at most `limit`, oldest first. */
  read(after: { epoch: string; offset: number }, limit: number): Promise<HistoryRead>;
  /** Where the history is now (a new epoch when it does not exist yet). */
  position(): Promise<HistoryPosition>;
}

export interface Bus {
  readonly driver: BusDriverName;

  // --- work streams -----------------------------------------------------------
  append(stream: string, payload: Buffer): Promise<string>;
  /**
   * Appends several entries in the order given, as one call (one command on
   * Redis): their ids in that order. What a gateway read from its sockets in
   * one event-loop turn goes to the bus together.
   */
  appendMany(stream: string, payloads: readonly Buffer[]): Promise<string[]>;
  /**
   * Appends unless `marker` is set, and sets it for `ttlMs`, in one step: of
   * two racing calls with one marker, one appends. Returns the entry id, or
   * null when the marker was set. `marker` must carry the stream's hash tag.
   */
  appendOnce(
    stream: string,
    payload: Buffer,
    marker: string,
    ttlMs: number,
  ): Promise<string | null>;
  /**
   * appendOnce for several entries of one stream, as one call: each appended
   * unless its marker is set (markers repeated within the call count as set
   * after their first use). Results in the order given. Every marker must
   * carry the stream's hash tag.
   */
  appendOnceMany(
    stream: string,
    items: readonly OnceItem[],
    ttlMs: number,
  ): Promise<(string | null)[]>;
  /** Whether the marker is set (an appendOnce with it happened within its ttl). */
  marked(marker: string): Promise<boolean>;
  /** Opens a reader (blocking reads). */
  reader(): Promise<BusReader>;
  /** Acknowledges entries of a group; returns how many were pending. */
  ack(stream: string, group: string, ids: readonly string[]): Promise<number>;
  /** Takes over, for `consumer`, entries pending longer than minIdleMs in the group. */
  claimIdle(
    stream: string,
    group: string,
    consumer: string,
    options: ClaimOptions,
  ): Promise<BusEntry[]>;
  /** The stream's groups; [] when the stream does not exist. */
  groups(stream: string): Promise<GroupInfo[]>;
  /** Entries in the stream (acknowledged or not, until trimmed). */
  length(stream: string): Promise<number>;
  /** Forgets a consumer; what it held pending is given to nobody (claim it first). */
  removeConsumer(stream: string, group: string, consumer: string): Promise<void>;
  /** Removes the entries every group has acknowledged; returns how many. */
  trimAcknowledged(stream: string): Promise<number>;
  /** Removes a stream with its groups (a dead gateway's). */
  deleteStream(stream: string): Promise<void>;

  // --- histories ----------------------------------------------------------------
  /** A history by name with its limits (no I/O until used). */
  history(name: string, limits: HistoryLimits): History;

  // --- presence -------------------------------------------------------------------
  /** Records (or refreshes) that `gatewayId` holds each of `uids`, for ttlMs, in one call. */
  touchPresence(uids: readonly string[], gatewayId: string, ttlMs: number): Promise<void>;
  leavePresence(uid: string, gatewayId: string): Promise<void>;
  /** For each uid, the gateways holding it now (none: absent from the map). */
  presence(uids: readonly string[]): Promise<Map<string, string[]>>;

  // --- sets -------------------------------------------------------------------------
  /** Adds a member to a durable set; true when it was not there. */
  addMember(set: string, member: string): Promise<boolean>;
  /** Removes a member; true when it was there. The set goes with its last member. */
  removeMember(set: string, member: string): Promise<boolean>;
  /** The set's members, in no order; [] when it does not exist. */
  members(set: string): Promise<string[]>;

  // --- records ------------------------------------------------------------------------
  /** Stores a small value under `name` for ttlMs (rewriting it renews it). */
  putRecord(name: string, payload: Buffer, ttlMs: number): Promise<void>;
  /** The records' values in the order asked; null for one missing or expired. */
  getRecords(names: readonly string[]): Promise<(Buffer | null)[]>;
  deleteRecord(name: string): Promise<void>;

  close(): Promise<void>;
}
