/**
 * Application groups: named sets of uids (a match's room, a chat group)
 * that a push can name once. Membership is per uid and durable (a set on
 * the bus), so it holds across reconnects and gateways; the gateways that
 * hold a member's connections are told at once, register in the group's
 * presence and replay what was pushed to the group since the join.
 */
import { busKeys, type Bus } from "../bus/index.js";
import { GamedockError } from "../core/index.js";
import { handOver } from "./hand-over.js";
import { checkName } from "./names.js";
import type { Pusher } from "./push.js";

/** Groups one uid may be in: each is replayed when it connects. */
export const MAX_GROUPS_PER_UID = 256;

export interface MembershipChange {
  /** False when the uid already was (join) or was not (leave) a member. */
  changed: boolean;
  /** Gateways holding the uid now, told of the change. */
  gateways: number;
}

export class AppGroups {
  constructor(
    private readonly bus: Bus,
    private readonly pusher: Pusher,
  ) {}

  /** The application groups a uid is in. */
  async of(uid: string): Promise<string[]> {
    return (await this.bus.members(busKeys.userGroups(checkName(uid, "uid")))).sort();
  }

  async join(uid: string, group: string): Promise<MembershipChange> {
    checkName(uid, "uid");
    checkName(group, "group");
    const set = busKeys.userGroups(uid);
    const changed = await this.bus.addMember(set, group);
    if (!changed) return { changed: false, gateways: 0 };
    // Counted after the add: of joins racing for the last place, none takes more than the limit.
    const count = (await this.bus.members(set)).length;
    if (count > MAX_GROUPS_PER_UID) {
      await this.bus.removeMember(set, group);
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `uid ${JSON.stringify(uid)} is in ${MAX_GROUPS_PER_UID} groups already (the most it may be in): remove it from one first`,
      );
    }
    // Read after the membership is written: what comes after this position is the member's.
    const position = await this.pusher.groupHistory(group).position();
    const gateways = await handOver(this.bus, uid, {
      kind: "membership",
      uid,
      group,
      joined: true,
      position,
    });
    return { changed, gateways };
  }

  async leave(uid: string, group: string): Promise<MembershipChange> {
    checkName(uid, "uid");
    checkName(group, "group");
    const changed = await this.bus.removeMember(busKeys.userGroups(uid), group);
    const gateways = await handOver(this.bus, uid, {
      kind: "membership",
      uid,
      group,
      joined: false,
    });
    return { changed, gateways };
  }
}
