/**
 * What support staff ask of chat (docs/chat.md, "Operations"): totals and
 * the backlog of unread messages, the conversations most recently active
 * first, and a conversation's history without being a member of it.
 *
 * Staff read for display only: a file message carries its link (a signed
 * path minted now, as on delivery), never bytes; a recalled message has no
 * text. Names and texts are returned as stored: escaping is the page's job.
 *
 * Every query runs on SQLite, MySQL/MariaDB and PostgreSQL. The totals and
 * the listing's order are computed over whole tables (no column keeps a
 * conversation's last activity, and chat_messages has no index by time),
 * so they cost more as chat grows.
 */
import { sql, type Kysely, type RawBuilder, type SqlBool } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Database, DbDialect, Tables } from "../db/index.js";
import type { Messages, MessageType } from "./messages.js";

const DAY_MS = 86_400_000;
/** Days of messagesByDay, today (UTC) included. */
export const STATS_DAYS = 14;
/** A conversation id as Conversations makes them. */
const CONV_ID = /^c[dg][a-z0-9]{1,12}-[0-9a-f]{10}$/;

export interface ChatStats {
  conversations: { direct: number; group: number };
  /** Messages stored, recalled ones included. */
  messages: number;
  /** The last STATS_DAYS UTC days, oldest first, zeros included. */
  messagesByDay: { day: string; count: number }[];
  /** unread: Σ over memberships of lastSeq − readSeq; users: distinct uids with any unread. */
  backlog: { unread: number; users: number };
}

export interface AdminConversation {
  conv: string;
  kind: "direct" | "group";
  name: string | null;
  /** How many members it has. */
  members: number;
  lastSeq: number;
  createdAt: string;
  /** When its last message was sent; null before the first. */
  lastMessageAt: string | null;
}

export interface ConversationQuery {
  kind?: "direct" | "group" | undefined;
  /** A substring of a group's name (case-insensitive), or a member's uid exactly. */
  q?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface AdminMessage {
  seq: number;
  sender: string;
  type: MessageType;
  /** null for a recalled message (and for those that carry none). */
  text: string | null;
  /** A link to the file (signed, valid chat.fileUrlTtlSeconds); null without one or once expired. */
  file: { id: string; name: string; url: string } | null;
  ts: string;
  recalled: boolean;
}

/** `s` for LIKE with `!` as the escape character, matching it anywhere. */
export function likeSubstring(s: string): string {
  return `%${s.replace(/[!%_]/g, "!$&")}%`;
}

const invalidCursor = (): GamedockError =>
  new GamedockError("E_INVALID_REQUEST", "cursor is not one this server gave", {
    field: "cursor",
  });

/** The listing's keyset: (last activity, conv) of the last row shown, base64url of "<ms>.<conv>". */
function decodeCursor(cursor: string): { at: number; conv: string } {
  const match = /^(\d{1,16})\.(.+)$/s.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match || !CONV_ID.test(match[2]!)) throw invalidCursor();
  return { at: Number(match[1]), conv: match[2]! };
}

const encodeCursor = (at: number, conv: string): string =>
  Buffer.from(`${at}.${conv}`).toString("base64url");

const iso = (ms: number): string => new Date(ms).toISOString();

export class ChatAdmin {
  private readonly db: Kysely<Tables>;
  private readonly dialect: DbDialect;

  constructor(
    database: Database,
    /** Mints the file links of history pages (the same views members get). */
    private readonly messages: Messages,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
    this.dialect = database.dialect;
  }

  async stats(): Promise<ChatStats> {
    const today = Math.floor(this.now() / DAY_MS);
    const firstDay = today - (STATS_DAYS - 1);
    // The divisor is written into the statement: SQLite would divide a bound number as a real.
    const bucket =
      this.dialect === "mysql"
        ? sql`created_at div ${sql.lit(DAY_MS)}`
        : sql`created_at / ${sql.lit(DAY_MS)}`;
    const [kinds, total, days, backlog] = await Promise.all([
      this.db
        .selectFrom("chat_conversations")
        .select(["kind", (eb) => eb.fn.countAll<number | string>().as("n")])
        .groupBy("kind")
        .execute(),
      this.db
        .selectFrom("chat_messages")
        .select((eb) => eb.fn.countAll<number | string>().as("n"))
        .executeTakeFirstOrThrow(),
      sql<{ bucket: number | string; n: number | string }>`
        select ${bucket} as bucket, count(*) as n from chat_messages
        where created_at >= ${firstDay * DAY_MS} group by 1`.execute(this.db),
      this.db
        .selectFrom("chat_members as m")
        .innerJoin("chat_conversations as c", "c.id", "m.conv_id")
        .select([
          sql<number | string | null>`sum(c.last_seq - m.read_seq)`.as("unread"),
          sql<number | string>`count(distinct m.uid)`.as("users"),
        ])
        .whereRef("c.last_seq", ">", "m.read_seq")
        .executeTakeFirstOrThrow(),
    ]);
    const byKind = new Map(kinds.map((k) => [k.kind, Number(k.n)]));
    const counts = new Map(days.rows.map((r) => [Number(r.bucket), Number(r.n)]));
    return {
      conversations: { direct: byKind.get("direct") ?? 0, group: byKind.get("group") ?? 0 },
      messages: Number(total.n),
      messagesByDay: Array.from({ length: STATS_DAYS }, (_, i) => ({
        day: iso((firstDay + i) * DAY_MS).slice(0, 10),
        count: counts.get(firstDay + i) ?? 0,
      })),
      backlog: { unread: Number(backlog.unread ?? 0), users: Number(backlog.users) },
    };
  }

  /** Conversations by last activity (last message, else creation), newest first, a page at a time. */
  async conversations(
    query: ConversationQuery,
  ): Promise<{ conversations: AdminConversation[]; nextCursor: string | null }> {
    const activeAt = sql<number>`coalesce(m.created_at, c.created_at)`;
    let select = this.db
      .selectFrom("chat_conversations as c")
      // The conversation's last message, by primary key.
      .leftJoin("chat_messages as m", (join) =>
        join.onRef("m.conv_id", "=", "c.id").onRef("m.seq", "=", "c.last_seq"),
      )
      .select([
        "c.id",
        "c.kind",
        "c.name",
        "c.member_count",
        "c.last_seq",
        "c.created_at",
        "m.created_at as last_at",
        activeAt.as("active_at"),
      ]);
    if (query.kind !== undefined) select = select.where("c.kind", "=", query.kind);
    if (query.q) {
      const q = query.q;
      select = select.where((eb) =>
        eb.or([
          eb.and([eb("c.kind", "=", "group"), this.nameContains(q)]),
          eb("c.id", "in", eb.selectFrom("chat_members").select("conv_id").where("uid", "=", q)),
        ]),
      );
    }
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      select = select.where(
        sql<SqlBool>`(${activeAt} < ${after.at} or (${activeAt} = ${after.at} and c.id < ${after.conv}))`,
      );
    }
    const rows = await select
      .orderBy(sql`active_at`, "desc")
      .orderBy("c.id", "desc")
      .limit(query.limit + 1)
      .execute();
    const shown = rows.slice(0, query.limit);
    const last = shown.at(-1);
    return {
      conversations: shown.map((r) => ({
        conv: r.id,
        kind: r.kind,
        name: r.name,
        members: r.member_count,
        lastSeq: r.last_seq,
        createdAt: iso(r.created_at),
        lastMessageAt: r.last_at === null ? null : iso(r.last_at),
      })),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.active_at, last.id) : null,
    };
  }

  /** A conversation's messages before `beforeSeq` (all: undefined), newest first; E_NOT_FOUND when there is none. */
  async history(
    conv: string,
    beforeSeq: number | undefined,
    limit: number,
  ): Promise<{ messages: AdminMessage[]; more: boolean }> {
    const found = CONV_ID.test(conv)
      ? await this.db
          .selectFrom("chat_conversations")
          .select("id")
          .where("id", "=", conv)
          .executeTakeFirst()
      : undefined;
    if (!found) {
      throw new GamedockError("E_NOT_FOUND", `no conversation ${JSON.stringify(conv)}`, { conv });
    }
    let select = this.db.selectFrom("chat_messages").selectAll().where("conv_id", "=", conv);
    if (beforeSeq !== undefined) select = select.where("seq", "<", beforeSeq);
    const rows = await select
      .orderBy("seq", "desc")
      .limit(limit + 1)
      .execute();
    const views = await this.messages.views(rows.slice(0, limit));
    return {
      messages: views.map((v) => ({
        seq: v.seq,
        sender: v.sender,
        type: v.type,
        text: v.recalled ? null : v.text,
        file: v.file && !v.recalled ? { id: v.file.id, name: v.file.name, url: v.file.url } : null,
        ts: v.ts,
        recalled: v.recalled,
      })),
      more: rows.length > limit,
    };
  }

  /**
   * The group's name contains `q`, ignoring case as the database's lower()
   * does (ASCII letters on SQLite, all on the others), with q's `%`, `_` and
   * `!` taken literally. On MySQL the comparison is binary after lower(), so
   * accents are not folded there either.
   */
  private nameContains(q: string): RawBuilder<SqlBool> {
    const pattern = likeSubstring(q);
    return this.dialect === "mysql"
      ? sql<SqlBool>`lower(c.name) collate utf8mb4_bin like lower(${pattern}) escape '!'`
      : sql<SqlBool>`lower(c.name) like lower(${pattern}) escape '!'`;
  }
}
