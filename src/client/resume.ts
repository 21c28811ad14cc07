/**
 * The client's side of resume: per history (the user's, the broadcast one,
 * each application group's) the epoch and the last offset it holds. From
 * these it builds the reconnect query, and by them it drops a push it
 * already has — a push racing a reconnect can come twice, or a replay can
 * overlap what arrived live, and the application must see each once.
 */
import type { Membership, PushHead, ResumeState, StreamPosition, Welcome } from "./types.js";

/**
 * What the client holds after the server announces `announced`: its own
 * offset while the epoch is the same (the replay that follows brings it up),
 * the server's when the epoch changed (the old offsets mean nothing there) or
 * when it had none.
 */
function adopt(held: StreamPosition | undefined, announced: StreamPosition): StreamPosition {
  if (!held || held.epoch !== announced.epoch || held.offset > announced.offset) {
    return { ...announced };
  }
  return held;
}

export class ResumePoints {
  private user: StreamPosition | undefined;
  private all: StreamPosition | undefined;
  private readonly groups = new Map<string, StreamPosition>();

  constructor(initial?: ResumeState) {
    if (!initial) return;
    this.user = initial.user && { ...initial.user };
    this.all = initial.all && { ...initial.all };
    for (const [name, p] of Object.entries(initial.groups)) this.groups.set(name, { ...p });
  }

  /** A welcome names the positions of the new connection's histories. */
  welcome(w: Welcome): void {
    this.user = adopt(this.user, { epoch: w.epoch, offset: w.offset });
    this.all = adopt(this.all, { epoch: w.allEpoch, offset: w.allOffset });
    // A gateway that predates groups says nothing of them: keep what is held.
    if (!w.groups) return;
    for (const name of [...this.groups.keys()]) if (!(name in w.groups)) this.groups.delete(name);
    for (const [name, p] of Object.entries(w.groups)) {
      this.groups.set(name, adopt(this.groups.get(name), p));
    }
  }

  membership(change: Membership): void {
    for (const name of change.left) this.groups.delete(name);
    for (const [name, p] of Object.entries(change.joined)) {
      this.groups.set(name, adopt(this.groups.get(name), p));
    }
  }

  /**
   * Whether to deliver a push: one without an offset (not persisted) always;
   * one with an offset only past the held one, which it then becomes.
   */
  accept(head: PushHead): boolean {
    if (typeof head.offset !== "number") return true;
    const stream = head.stream ?? "user";
    let held: StreamPosition | undefined;
    if (stream === "user") held = this.user;
    else if (stream === "all") held = this.all;
    else if (typeof head.group === "string") held = this.groups.get(head.group);
    // No position yet (a group push before its membership frame): deliver, keep nothing —
    // without the epoch the offset could not be resumed from anyway.
    if (!held) return true;
    if (head.offset <= held.offset) return false;
    held.offset = head.offset;
    return true;
  }

  /** Adds the resume parameters of docs/realtime.md to a connection URL. */
  addTo(params: URLSearchParams): void {
    if (this.user) {
      params.set("lastOffset", String(this.user.offset));
      params.set("epoch", this.user.epoch);
    }
    if (this.all) {
      params.set("allOffset", String(this.all.offset));
      params.set("allEpoch", this.all.epoch);
    }
    if (this.groups.size > 0) params.set("groups", JSON.stringify(this.snapshot().groups));
  }

  snapshot(): ResumeState {
    const groups: Record<string, StreamPosition> = {};
    for (const [name, p] of this.groups) groups[name] = { ...p };
    return {
      ...(this.user ? { user: { ...this.user } } : {}),
      ...(this.all ? { all: { ...this.all } } : {}),
      groups,
    };
  }
}
