/**
 * Conversations (docs/chat.md): one direct conversation per pair of uids
 * (found by the sha256 of the two, so opening it twice, or from both sides
 * at once, gives one), and groups with an owner, members and a member limit.
 * Only members may send or read; each member has a read cursor (read_seq),
 * and what is after it is unread.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { GamedockError } from "../core/index.js";
import type { ChatConversationTable, ChatMemberTable, Database, Tables } from "../db/index.js";
import { isDuplicateKey } from "../db/sql-errors.js";

type Trx = Transaction<Tables>;

export interface ConversationView {
  conv: string;
  kind: "direct" | "group";
  name: string | null;
  /** The other uid of a direct conversation. */
  peer: string | null;
  role: "owner" | "member";
  lastSeq: number;
  readSeq: number;
  unread: number;
  members: number;
}

const newConvId = (kind: "d" | "g"): string =>
  `c${kind}${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;

const directKey = (a: string, b: string): string =>
  createHash("sha256").update([a, b].sort().join("\n")).digest("hex");

export function notMember(conv: string): GamedockError {
  return new GamedockError("E_NOT_MEMBER", `you are not a member of conversation ${conv}`, {
    conv,
  });
}

export class Conversations {
  private readonly db: Kysely<Tables>;

  constructor(
    database: Database,
    private readonly maxGroupMembers: number,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
  }

  /** The direct conversation of two uids, created the first time. */
  async direct(uid: string, peer: string): Promise<ConversationView> {
    if (peer === uid) {
      throw new GamedockError("E_INVALID_REQUEST", "a direct conversation needs another uid", {
        field: "peer",
      });
    }
    const key = directKey(uid, peer);
    const existing = await this.db
      .selectFrom("chat_conversations")
      .select("id")
      .where("direct_key", "=", key)
      .executeTakeFirst();
    if (!existing) {
      try {
        await this.db.transaction().execute(async (trx) => {
          const conv = newConvId("d");
          await this.insertConversation(trx, {
            id: conv,
            kind: "direct",
            key,
            name: null,
            count: 2,
          });
          await this.insertMembers(trx, conv, [uid, peer], null);
        });
      } catch (err) {
        // Both sides opened it at once: the other insert made it.
        if (!isDuplicateKey(err)) throw err;
      }
    }
    const conv = await this.db
      .selectFrom("chat_conversations")
      .select("id")
      .where("direct_key", "=", key)
      .executeTakeFirstOrThrow();
    return this.view(uid, conv.id);
  }

  /** A group owned by `owner`, with `members` besides. */
  async createGroup(
    owner: string,
    name: string,
    members: readonly string[],
  ): Promise<ConversationView> {
    const uids = [...new Set([owner, ...members])];
    this.checkSize(uids.length);
    const conv = newConvId("g");
    await this.db.transaction().execute(async (trx) => {
      await this.insertConversation(trx, {
        id: conv,
        kind: "group",
        key: null,
        name,
        count: uids.length,
      });
      await this.insertMembers(trx, conv, uids, owner);
    });
    return this.view(owner, conv);
  }

  /** The owner adds uids (those already in are left as they are); the count stays under the limit. */
  async addMembers(
    actor: string,
    conv: string,
    uids: readonly string[],
  ): Promise<ConversationView> {
    await this.db.transaction().execute(async (trx) => {
      const group = await this.lockGroup(trx, conv, actor);
      const present = new Set(
        (
          await trx
            .selectFrom("chat_members")
            .select("uid")
            .where("conv_id", "=", conv)
            .where("uid", "in", [...uids])
            .execute()
        ).map((m) => m.uid),
      );
      const added = [...new Set(uids)].filter((uid) => !present.has(uid));
      if (added.length === 0) return;
      this.checkSize(group.member_count + added.length);
      await this.insertMembers(trx, conv, added, null, group.last_seq);
      await trx
        .updateTable("chat_conversations")
        .set({ member_count: group.member_count + added.length })
        .where("id", "=", conv)
        .execute();
    });
    return this.view(actor, conv);
  }

  /** The owner removes a member, or a member leaves (uid = actor). The owner cannot leave. */
  async removeMember(actor: string, conv: string, uid: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const group = await this.lockGroup(trx, conv, uid === actor ? null : actor);
      const member = await this.member(trx, conv, actor);
      if (!member) throw notMember(conv);
      if (uid === actor && member.role === "owner") {
        throw new GamedockError("E_INVALID_REQUEST", "the owner cannot leave the group", {
          field: "uid",
        });
      }
      const removed = await trx
        .deleteFrom("chat_members")
        .where("conv_id", "=", conv)
        .where("uid", "=", uid)
        .executeTakeFirst();
      if (Number(removed.numDeletedRows) > 0) {
        await trx
          .updateTable("chat_conversations")
          .set({ member_count: group.member_count - 1 })
          .where("id", "=", conv)
          .execute();
      }
    });
  }

  /** The caller's conversations with their unread counts, most recently active first. */
  async list(uid: string, only?: string): Promise<ConversationView[]> {
    let query = this.db
      .selectFrom("chat_members as m")
      .innerJoin("chat_conversations as c", "c.id", "m.conv_id")
      .select(["c.id", "c.kind", "c.name", "c.last_seq", "c.member_count", "m.role", "m.read_seq"])
      .where("m.uid", "=", uid);
    if (only !== undefined) query = query.where("m.conv_id", "=", only);
    const rows = await query.execute();
    const peers = await this.peersOf(
      uid,
      rows.filter((r) => r.kind === "direct").map((r) => r.id),
    );
    return rows
      .map((r) => ({
        conv: r.id,
        kind: r.kind,
        name: r.name,
        peer: peers.get(r.id) ?? null,
        role: r.role,
        lastSeq: r.last_seq,
        readSeq: r.read_seq,
        unread: Math.max(0, r.last_seq - r.read_seq),
        members: r.member_count,
      }))
      .sort((a, b) => b.unread - a.unread || (a.conv < b.conv ? -1 : 1));
  }

  /** The uids of a conversation (members only may ask). */
  async members(uid: string, conv: string): Promise<{ uid: string; role: string }[]> {
    await this.requireMember(this.db, conv, uid);
    return this.db
      .selectFrom("chat_members")
      .select(["uid", "role"])
      .where("conv_id", "=", conv)
      .orderBy("uid")
      .execute();
  }

  /** The caller's view of one conversation; E_NOT_MEMBER when not in it. */
  async view(uid: string, conv: string): Promise<ConversationView> {
    // One row by the member key, not the caller's whole list.
    const [view] = await this.list(uid, conv);
    if (!view) throw notMember(conv);
    return view;
  }

  /** The member's row; E_NOT_MEMBER when absent. */
  async requireMember(db: Kysely<Tables>, conv: string, uid: string): Promise<ChatMemberTable> {
    const member = await this.member(db, conv, uid);
    if (!member) throw notMember(conv);
    return member;
  }

  private member(db: Kysely<Tables>, conv: string, uid: string) {
    return db
      .selectFrom("chat_members")
      .selectAll()
      .where("conv_id", "=", conv)
      .where("uid", "=", uid)
      .executeTakeFirst();
  }

  private async peersOf(uid: string, convs: string[]): Promise<Map<string, string>> {
    if (convs.length === 0) return new Map();
    const rows = await this.db
      .selectFrom("chat_members")
      .select(["conv_id", "uid"])
      .where("conv_id", "in", convs)
      .where("uid", "!=", uid)
      .execute();
    return new Map(rows.map((r) => [r.conv_id, r.uid]));
  }

  /** The group's row under its lock; `owner`, when given, must own it. */
  private async lockGroup(
    trx: Trx,
    conv: string,
    owner: string | null,
  ): Promise<ChatConversationTable> {
    await trx
      .updateTable("chat_conversations")
      .set((eb) => ({ member_count: eb.ref("member_count") }))
      .where("id", "=", conv)
      .execute();
    const group = await trx
      .selectFrom("chat_conversations")
      .selectAll()
      .where("id", "=", conv)
      .executeTakeFirst();
    if (!group || group.kind !== "group") {
      throw new GamedockError("E_NOT_FOUND", `no group ${JSON.stringify(conv)}`, { conv });
    }
    if (owner !== null) {
      const member = await this.member(trx, conv, owner);
      if (member?.role !== "owner") {
        throw new GamedockError(
          "E_NO_PERMISSION",
          `only the group's owner may change its members`,
          {
            conv,
          },
        );
      }
    }
    return group;
  }

  private checkSize(count: number): void {
    if (count > this.maxGroupMembers) {
      throw new GamedockError(
        "E_GROUP_FULL",
        `a group has at most ${this.maxGroupMembers} members (chat.maxGroupMembers); this would make ${count}`,
        { maxGroupMembers: this.maxGroupMembers },
      );
    }
  }

  private async insertConversation(
    trx: Trx,
    c: {
      id: string;
      kind: "direct" | "group";
      key: string | null;
      name: string | null;
      count: number;
    },
  ): Promise<void> {
    await trx
      .insertInto("chat_conversations")
      .values({
        id: c.id,
        kind: c.kind,
        direct_key: c.key,
        name: c.name,
        last_seq: 0,
        member_count: c.count,
        created_at: this.now(),
      })
      .execute();
  }

  /** New members have read everything before they joined (`readSeq`). */
  private async insertMembers(
    trx: Trx,
    conv: string,
    uids: readonly string[],
    owner: string | null,
    readSeq = 0,
  ): Promise<void> {
    const now = this.now();
    for (let i = 0; i < uids.length; i += 500) {
      await trx
        .insertInto("chat_members")
        .values(
          uids.slice(i, i + 500).map((uid) => ({
            conv_id: conv,
            uid,
            role: uid === owner ? ("owner" as const) : ("member" as const),
            read_seq: readSeq,
            joined_at: now,
          })),
        )
        .execute();
    }
  }
}
