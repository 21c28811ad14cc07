/**
 * Pushes: server → client messages not answering a request, from handlers
 * (`ctx.push`) and other backends (`POST /api/v1/push`).
 *
 * A persisted push to users goes into each user's bounded history first,
 * with that history's next offset; a push to everyone goes into the
 * broadcast history once, and a push to an application group into that
 * group's history once (never one write per member). Then it is handed to
 * the gateways that hold the users or the group's members (the presence
 * map), or to every live gateway for a broadcast: one
 * bus entry per gateway, never one per connection. A client that was away
 * reads what it missed from the histories when it reconnects (gateway.ts).
 * `persist: false` skips the histories: delivered to whoever is connected
 * now, never replayed.
 */
import { busKeys, type Bus, type HistoryLimits } from "../bus/index.js";
import { GamedockError } from "../core/index.js";
import { encodeEnvelope, encodeHistoryEntry, type PushEnvelope } from "./envelope.js";
import { handOver } from "./hand-over.js";
import { GATEWAYS_PRESENCE, groupPresence } from "./names.js";
import { FIRST_APP_MSG_ID, MAX_MSG_ID } from "./protocol.js";

export type PushTarget =
  { uid: string } | { uids: readonly string[] } | { group: string } | { all: true };

export interface PushOptions {
  /** Keep it in the history so a reconnecting client gets it (default true). */
  persist?: boolean;
}

export interface PushResult {
  /** Gateways the push was handed to. */
  gateways: number;
  /** uid → offset in its history (persisted pushes to users). */
  offsets: Record<string, number>;
  /** The broadcast history's offset (persisted pushes to everyone). */
  broadcastOffset?: number;
  /** The group history's offset (persisted pushes to an application group). */
  groupOffset?: number;
}
export const MAX_PUSH_UIDS = 10_000;
/** Bytes a persisted push to users may add to the histories (its size × its uids). */
export const MAX_PERSISTED_FANOUT_BYTES = 64 * 1024 * 1024;

export interface PushSettings {
  history: HistoryLimits;
}

export class Pusher {
  constructor(
    private readonly bus: Bus,
    private readonly settings: PushSettings,
  ) {}

  userHistory(uid: string) {
    return this.bus.history(busKeys.userHistory(uid), this.settings.history);
  }

  broadcastHistory() {
    return this.bus.history(busKeys.broadcastHistory(), this.settings.history);
  }

  groupHistory(group: string) {
    return this.bus.history(busKeys.groupHistory(group), this.settings.history);
  }

  async push(
    to: PushTarget,
    msgId: number,
    body: unknown,
    options: PushOptions = {},
  ): Promise<PushResult> {
    checkMsgId(msgId);
    const persist = options.persist ?? true;
    if ("all" in to) return this.pushAll(msgId, body, persist);
    if ("group" in to) return this.pushGroup(to.group, msgId, body, persist);
    const uids = [...new Set("uid" in to ? [to.uid] : to.uids)];
    if (uids.length === 0 || uids.length > MAX_PUSH_UIDS) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `a push names 1-${MAX_PUSH_UIDS} uids, got ${uids.length}`,
      );
    }
    const offsets: Record<string, number> = {};
    if (persist) {
      const entry = encodeHistoryEntry({ msgId, body });
      if (entry.length * uids.length > MAX_PERSISTED_FANOUT_BYTES) {
        // One copy per user's history: size × fan-out must stay bounded.
        throw new GamedockError(
          "E_INVALID_REQUEST",
          `a persisted push of ${entry.length} bytes to ${uids.length} uids would store ${entry.length * uids.length} bytes (more than ${MAX_PERSISTED_FANOUT_BYTES}): push to {all: true}, to fewer uids, or with persist: false`,
        );
      }
      await Promise.all(
        uids.map(async (uid) => {
          offsets[uid] = (await this.userHistory(uid).append(entry)).offset;
        }),
      );
    }
    const presence = await this.bus.presence(uids);
    const byGateway = new Map<string, { uid: string; offset?: number }[]>();
    for (const [uid, gateways] of presence) {
      for (const gateway of gateways) {
        const list = byGateway.get(gateway) ?? [];
        list.push(persist ? { uid, offset: offsets[uid]! } : { uid });
        byGateway.set(gateway, list);
      }
    }
    await Promise.all(
      [...byGateway].map(([gateway, targets]) =>
        this.bus.append(
          busKeys.gatewayStream(gateway),
          encodeEnvelope({
            kind: "push",
            stream: "user",
            targets,
            msgId,
            body,
          } satisfies PushEnvelope),
        ),
      ),
    );
    return { gateways: byGateway.size, offsets };
  }

  private async pushAll(msgId: number, body: unknown, persist: boolean): Promise<PushResult> {
    const offset = persist
      ? (await this.broadcastHistory().append(encodeHistoryEntry({ msgId, body }))).offset
      : undefined;
    const envelope: PushEnvelope = {
      kind: "push",
      stream: "all",
      msgId,
      body,
      ...(offset === undefined ? {} : { offset }),
    };
    const gateways = await handOver(this.bus, GATEWAYS_PRESENCE, envelope);
    return {
      gateways,
      offsets: {},
      ...(offset === undefined ? {} : { broadcastOffset: offset }),
    };
  }

  private async pushGroup(
    group: string,
    msgId: number,
    body: unknown,
    persist: boolean,
  ): Promise<PushResult> {
    const offset = persist
      ? (await this.groupHistory(group).append(encodeHistoryEntry({ msgId, body }))).offset
      : undefined;
    const envelope: PushEnvelope = {
      kind: "push",
      stream: "group",
      group,
      msgId,
      body,
      ...(offset === undefined ? {} : { offset }),
    };
    const gateways = await handOver(this.bus, groupPresence(group), envelope);
    return {
      gateways,
      offsets: {},
      ...(offset === undefined ? {} : { groupOffset: offset }),
    };
  }
}

function checkMsgId(msgId: number): void {
  if (!Number.isInteger(msgId) || msgId < FIRST_APP_MSG_ID || msgId > MAX_MSG_ID) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `a push's msgId must be a whole number ${FIRST_APP_MSG_ID}..${MAX_MSG_ID}, got ${JSON.stringify(msgId)}`,
    );
  }
}
