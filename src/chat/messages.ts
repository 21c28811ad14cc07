/**
 * Messages (docs/chat.md): stored once per conversation with the next seq
 * — taken by incrementing the conversation's last_seq in the message's own
 * transaction, so seqs are gapless and their order is the conversation's —
 * idempotent by (conversation, sender, clientMsgId): a retry, also one a
 * logic worker makes after another died, answers the first message and
 * stores nothing. Receivers page by seq; an ack moves the member's read
 * cursor forward only. A file is a reference: the view a receiver gets
 * carries its name, size, type, sha256 and a signed URL minted now, never
 * stored (a message synced days later still gets a working link).
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { GamedockError } from "../core/index.js";
import type { ChatMessageTable, Database, Tables } from "../db/index.js";
import { isDeadlock, isDuplicateKey } from "../db/sql-errors.js";
import type { FileLookup } from "../files/index.js";
import type { Conversations } from "./conversations.js";

type Trx = Transaction<Tables>;

export type MessageType = ChatMessageTable["type"];
export const MESSAGE_TYPES: readonly MessageType[] = [
  "text",
  "rich",
  "location",
  "image",
  "audio",
  "video",
  "file",
];
/** Types that carry a file, and need one. */
const FILE_TYPES: readonly MessageType[] = ["image", "audio", "video", "file"];

export interface SendRequest {
  conv: string;
  clientMsgId: string;
  type: MessageType;
  text?: string | undefined;
  file?: { id: string } | undefined;
  meta?: unknown;
}

export interface Sent {
  conv: string;
  seq: number;
  messageId: string;
  ts: string;
  /** True when this clientMsgId was sent before: nothing new was stored. */
  repeated: boolean;
}

export interface FileRef {
  id: string;
  name: string;
  size: number;
  contentType: string;
  sha256: string;
  /** A signed download path, valid chat.fileUrlTtlSeconds from when this view was made. */
  url: string;
}

export interface MessageView {
  conv: string;
  seq: number;
  messageId: string;
  sender: string;
  clientMsgId: string;
  type: MessageType;
  text: string | null;
  /** null for a message without a file, or one whose file expired. */
  file: FileRef | null;
  meta: unknown;
  ts: string;
  recalled: boolean;
}

export interface MessageLimits {
  maxTextLength: number;
  maxMessageBytes: number;
  recallWindowMs: number;
  fileUrlTtlSeconds: number;
}

const DEADLOCK_RETRIES = 5;
export const MAX_PAGE = 200;

const newMessageId = (): string => `g${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;

export class Messages {
  private readonly db: Kysely<Tables>;

  constructor(
    database: Database,
    private readonly conversations: Conversations,
    private readonly files: FileLookup | undefined,
    private readonly limits: MessageLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
  }

  async send(uid: string, request: SendRequest): Promise<Sent> {
    const meta = request.meta === undefined ? null : JSON.stringify(request.meta);
    this.checkContent(request, meta);
    for (let attempt = 1; ; attempt++) {
      const first = await this.first(uid, request);
      if (first) return first;
      await this.conversations.requireMember(this.db, request.conv, uid);
      if (request.file) await this.checkFile(uid, request.conv, request.file.id);
      try {
        return await this.db.transaction().execute((trx) => this.sendIn(trx, uid, request, meta));
      } catch (err) {
        if (isDeadlock(err) && attempt < DEADLOCK_RETRIES) continue;
        // The same clientMsgId sent concurrently: the first insert won (its seq stands, ours rolled back).
        if (isDuplicateKey(err)) {
          const won = await this.first(uid, request);
          if (won) return won;
        }
        throw err;
      }
    }
  }

  /** Messages after `afterSeq` (oldest first), a page at a time; members only. */
  async after(
    uid: string,
    conv: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ messages: MessageView[]; lastSeq: number; more: boolean }> {
    await this.conversations.requireMember(this.db, conv, uid);
    const rows = await this.db
      .selectFrom("chat_messages")
      .selectAll()
      .where("conv_id", "=", conv)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit + 1)
      .execute();
    const { last_seq: lastSeq } = await this.db
      .selectFrom("chat_conversations")
      .select("last_seq")
      .where("id", "=", conv)
      .executeTakeFirstOrThrow();
    const shown = rows.slice(0, limit);
    return { messages: await this.views(shown), lastSeq, more: rows.length > limit };
  }

  /** Messages before `beforeSeq` (newest first): scrolling back through the history. */
  async before(
    uid: string,
    conv: string,
    beforeSeq: number,
    limit: number,
  ): Promise<MessageView[]> {
    await this.conversations.requireMember(this.db, conv, uid);
    const rows = await this.db
      .selectFrom("chat_messages")
      .selectAll()
      .where("conv_id", "=", conv)
      .where("seq", "<", beforeSeq)
      .orderBy("seq", "desc")
      .limit(limit)
      .execute();
    return this.views(rows);
  }

  /** Moves the caller's read cursor to `seq` (never back, never past the last message). */
  async ack(uid: string, conv: string, seq: number): Promise<{ conv: string; readSeq: number }> {
    await this.conversations.requireMember(this.db, conv, uid);
    const { last_seq: lastSeq } = await this.db
      .selectFrom("chat_conversations")
      .select("last_seq")
      .where("id", "=", conv)
      .executeTakeFirstOrThrow();
    await this.db
      .updateTable("chat_members")
      .set({ read_seq: Math.min(seq, lastSeq) })
      .where("conv_id", "=", conv)
      .where("uid", "=", uid)
      .where("read_seq", "<", Math.min(seq, lastSeq))
      .execute();
    const member = await this.conversations.requireMember(this.db, conv, uid);
    return { conv, readSeq: member.read_seq };
  }

  /** The sender takes a message back within chat.recallWindowMs: its text, file and meta are dropped. */
  async recall(uid: string, conv: string, seq: number): Promise<MessageView> {
    await this.conversations.requireMember(this.db, conv, uid);
    const row = await this.db
      .selectFrom("chat_messages")
      .selectAll()
      .where("conv_id", "=", conv)
      .where("seq", "=", seq)
      .executeTakeFirst();
    if (!row) throw new GamedockError("E_NOT_FOUND", `no message ${seq} in ${conv}`, { seq });
    if (row.sender !== uid || this.now() - row.created_at > this.limits.recallWindowMs) {
      throw new GamedockError(
        "E_RECALL_EXPIRED",
        row.sender !== uid
          ? "only its sender may recall a message"
          : `a message may be recalled within ${this.limits.recallWindowMs} ms of sending (chat.recallWindowMs)`,
        { seq },
      );
    }
    await this.db
      .updateTable("chat_messages")
      .set({ recalled_at: row.recalled_at ?? this.now(), text: null, file_id: null, meta: null })
      .where("conv_id", "=", conv)
      .where("seq", "=", seq)
      .execute();
    const [view] = await this.views([
      { ...row, recalled_at: row.recalled_at ?? this.now(), text: null, file_id: null, meta: null },
    ]);
    return view!;
  }

  /** Views of stored messages, each file's link minted now. */
  async views(rows: readonly ChatMessageTable[]): Promise<MessageView[]> {
    const files = new Map<string, FileRef | null>();
    for (const row of rows) {
      if (row.file_id !== null && !files.has(row.file_id)) {
        files.set(row.file_id, await this.fileRef(row.file_id));
      }
    }
    return rows.map((row) => ({
      conv: row.conv_id,
      seq: row.seq,
      messageId: row.id,
      sender: row.sender,
      clientMsgId: row.client_msg_id,
      type: row.type,
      text: row.text,
      file: row.file_id === null ? null : (files.get(row.file_id) ?? null),
      meta: row.meta === null ? null : (JSON.parse(row.meta) as unknown),
      ts: new Date(row.created_at).toISOString(),
      recalled: row.recalled_at !== null,
    }));
  }

  private async fileRef(id: string): Promise<FileRef | null> {
    const file = await this.files?.get(id);
    if (!file || !this.files) return null;
    return {
      id: file.id,
      name: file.name,
      size: file.size,
      contentType: file.contentType,
      sha256: file.sha256,
      url: this.files.signedUrl(id, this.limits.fileUrlTtlSeconds),
    };
  }

  private async sendIn(
    trx: Trx,
    uid: string,
    request: SendRequest,
    meta: string | null,
  ): Promise<Sent> {
    // The increment takes the conversation's row lock: sends to one conversation take turns.
    await trx
      .updateTable("chat_conversations")
      .set((eb) => ({ last_seq: eb("last_seq", "+", 1) }))
      .where("id", "=", request.conv)
      .execute();
    const { last_seq: seq } = await trx
      .selectFrom("chat_conversations")
      .select("last_seq")
      .where("id", "=", request.conv)
      .executeTakeFirstOrThrow();
    const now = this.now();
    const id = newMessageId();
    await trx
      .insertInto("chat_messages")
      .values({
        conv_id: request.conv,
        seq,
        id,
        sender: uid,
        client_msg_id: request.clientMsgId,
        type: request.type,
        text: request.text ?? null,
        file_id: request.file?.id ?? null,
        meta,
        created_at: now,
        recalled_at: null,
      })
      .execute();
    // The sender has read what it sent.
    await trx
      .updateTable("chat_members")
      .set({ read_seq: seq })
      .where("conv_id", "=", request.conv)
      .where("uid", "=", uid)
      .where("read_seq", "<", seq)
      .execute();
    return {
      conv: request.conv,
      seq,
      messageId: id,
      ts: new Date(now).toISOString(),
      repeated: false,
    };
  }

  private async first(uid: string, request: SendRequest): Promise<Sent | null> {
    const row = await this.db
      .selectFrom("chat_messages")
      .select(["conv_id", "seq", "id", "created_at"])
      .where("conv_id", "=", request.conv)
      .where("sender", "=", uid)
      .where("client_msg_id", "=", request.clientMsgId)
      .executeTakeFirst();
    return row
      ? {
          conv: row.conv_id,
          seq: row.seq,
          messageId: row.id,
          ts: new Date(row.created_at).toISOString(),
          repeated: true,
        }
      : null;
  }

  private checkContent(request: SendRequest, meta: string | null): void {
    const { maxTextLength, maxMessageBytes } = this.limits;
    const text = request.text ?? "";
    if (text.length > maxTextLength) {
      throw new GamedockError(
        "E_MESSAGE_TOO_LARGE",
        `text is ${text.length} characters; at most ${maxTextLength} (chat.maxTextLength)`,
        { field: "text", maxTextLength },
      );
    }
    const bytes = Buffer.byteLength(text) + (meta === null ? 0 : Buffer.byteLength(meta));
    if (bytes > maxMessageBytes) {
      throw new GamedockError(
        "E_MESSAGE_TOO_LARGE",
        `text and meta are ${bytes} bytes; at most ${maxMessageBytes} (chat.maxMessageBytes)`,
        { field: "meta", maxMessageBytes },
      );
    }
    const needsFile = FILE_TYPES.includes(request.type);
    if (needsFile !== (request.file !== undefined)) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        needsFile
          ? `a message of type ${request.type} needs file: {id}`
          : `a message of type ${request.type} carries no file`,
        { field: "file" },
      );
    }
    if ((request.type === "text" || request.type === "rich") && text.length === 0) {
      throw new GamedockError("E_INVALID_REQUEST", `a ${request.type} message needs text`, {
        field: "text",
      });
    }
  }

  /**
   * The file must exist (not expired) and be the sender's — its owner in
   * the file service is `uid:<uid>` when uploaded with the user's realtime
   * token — or have been shared in this conversation already.
   */
  private async checkFile(uid: string, conv: string, fileId: string): Promise<void> {
    const refused = (why: string) =>
      new GamedockError("E_FILE_NOT_SHARED", `file ${fileId}: ${why}`, { field: "file.id" });
    if (!this.files) throw refused("this process has no file service");
    const file = await this.files.get(fileId);
    if (!file) throw refused("no such file, or it expired");
    const owner = await this.files.ownerOf(fileId);
    if (owner === `uid:${uid}`) return;
    const shared = await this.db
      .selectFrom("chat_messages")
      .select("seq")
      .where("conv_id", "=", conv)
      .where("file_id", "=", fileId)
      .limit(1)
      .executeTakeFirst();
    if (!shared) throw refused("it is not yours, and was not shared in this conversation");
  }
}
