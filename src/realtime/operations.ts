/**
 * What operators ask of the realtime runtime, from the bus alone (so any
 * process with the bus answers for all of them): the live gateways and
 * their connections, each logic group's backlog, where a uid is, and
 * kicking a uid off every gateway (close 4403).
 */
import { busKeys, type Bus, type ConsumerInfo } from "../bus/index.js";
import { handOver } from "./hand-over.js";
import type { GatewayStatus } from "./gateway.js";
import { LOGIC_GROUP } from "./logic.js";
import { GATEWAYS_PRESENCE, checkName, logicPresence } from "./names.js";

export interface LogicGroupStatus {
  group: string;
  /** Requests in the stream (handled ones until trimmed). */
  length: number;
  /** Taken by a worker, not yet answered. */
  pending: number;
  /** Not yet taken by any worker. */
  lag: number;
  consumers: (ConsumerInfo & { alive: boolean })[];
}

export class RealtimeOperations {
  constructor(private readonly bus: Bus) {}

  /** The bus the realtime parts meet on: "memory" (one process) or "redis". */
  get busDriver(): string {
    return this.bus.driver;
  }

  /** Live gateways with their status records (a gateway that just started may have none yet). */
  async gateways(): Promise<(GatewayStatus | { gatewayId: string; status: null })[]> {
    const ids = (
      (await this.bus.presence([GATEWAYS_PRESENCE])).get(GATEWAYS_PRESENCE) ?? []
    ).sort();
    const records = await this.bus.getRecords(ids.map((id) => busKeys.gatewayStatus(id)));
    return ids.map((gatewayId, i) => {
      const record = records[i];
      return record
        ? (JSON.parse(record.toString("utf8")) as GatewayStatus)
        : { gatewayId, status: null };
    });
  }

  /** Every logic group that has had a worker, with its backlog and consumers. */
  async logicGroups(): Promise<LogicGroupStatus[]> {
    const groups = (await this.bus.members(busKeys.logicGroups())).sort();
    return Promise.all(
      groups.map(async (group) => {
        const stream = busKeys.requests(group);
        const [info, length, presence] = await Promise.all([
          this.bus.groups(stream),
          this.bus.length(stream),
          this.bus.presence([logicPresence(group)]),
        ]);
        const logic = info.find((g) => g.name === LOGIC_GROUP);
        const alive = new Set(presence.get(logicPresence(group)) ?? []);
        return {
          group,
          length,
          pending: logic?.pending ?? 0,
          lag: logic?.lag ?? 0,
          consumers: (logic?.consumers ?? []).map((c) => ({ ...c, alive: alive.has(c.name) })),
        };
      }),
    );
  }

  /** The gateways holding a uid and its application groups. */
  async user(uid: string): Promise<{ uid: string; gateways: string[]; groups: string[] }> {
    checkName(uid, "uid");
    const gateways = (await this.bus.presence([uid])).get(uid) ?? [];
    const groups = (await this.bus.members(busKeys.userGroups(uid))).sort();
    return { uid, gateways: gateways.sort(), groups };
  }

  /** Closes the uid's connections on every gateway with 4403; returns how many gateways were told. */
  async kick(uid: string, reason: string): Promise<{ gateways: number }> {
    checkName(uid, "uid");
    return { gateways: await handOver(this.bus, uid, { kind: "kick", uid, reason }) };
  }
}
