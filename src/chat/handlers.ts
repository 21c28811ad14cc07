/**
 * Chat over the realtime connection (design note 004): the handler module
 * for msgIds 3000–3999 that `serve` and `gamedock logic` load beside the
 * configured ones (docs/chat.md). The caller is the connection's uid.
 * Sending is idempotent by (conversation, sender, clientMsgId); a new
 * message is pushed to the members who are connected (not persisted: the
 * seq-based sync is the source of truth for the others).
 */
import { z } from "zod";
import type { Config } from "../core/index.js";
import { invalidField, textProblem } from "../core/index.js";
import type { Database } from "../db/index.js";
import { defineHandlers, type HandlerContext, type HandlerModule } from "../realtime/index.js";
import { Conversations } from "./conversations.js";
import { MAX_PAGE, MESSAGE_TYPES, Messages, type MessageView } from "./messages.js";
import { CHAT_PUSH, CHAT_RANGE, CHAT_REQUEST } from "./msg-ids.js";
import { SendRate } from "./rate.js";

const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const conv = z.string().regex(/^c[dg][a-z0-9]{1,12}-[0-9a-f]{10}$/, "a conversation id");
const uid = z
  .string()
  .min(1)
  .max(128)
  .superRefine((value, ctx) => {
    const problem = textProblem(value);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  });
const seq = z.number().int().min(0);
const limit = z.number().int().min(1).max(MAX_PAGE);

const directBody = z.object({ peer: uid }).strict();
const groupBody = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .refine((v) => textProblem(v) === null, "no control or bidi characters"),
    members: z.array(uid).max(1000),
  })
  .strict();
const addBody = z.object({ conv, uids: z.array(uid).min(1).max(1000) }).strict();
const removeBody = z.object({ conv, uid }).strict();
const convBody = z.object({ conv }).strict();
const sendBody = z
  .object({
    conv,
    clientMsgId: z.string().regex(CLIENT_ID, "1–64 of A-Z a-z 0-9 _ . : -"),
    type: z.enum(MESSAGE_TYPES as [string, ...string[]]),
    // Length is checked against chat.maxTextLength; the characters here.
    text: z
      .string()
      .refine((v) => textProblem(v.replace(/[\n\t]/g, " ")) === null, "ill-formed text")
      .optional(),
    file: z
      .object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a file id") })
      .strict()
      .optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const syncBody = z.object({ conv, afterSeq: seq, limit: limit.optional() }).strict();
const historyBody = z.object({ conv, beforeSeq: seq, limit: limit.optional() }).strict();
const seqBody = z.object({ conv, seq }).strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw invalidField(parsed.error.issues);
  return parsed.data;
}

export function chatHandlerModule(config: Config, database: Database): HandlerModule {
  const c = config.chat;
  const conversations = new Conversations(database, c.maxGroupMembers);
  const rate = new SendRate(c.sendsPerSecond);
  let messages: Messages | null = null;
  // The file service comes with the request's services (declared below).
  const messagesOf = (ctx: HandlerContext): Messages =>
    (messages ??= new Messages(database, conversations, ctx.services.files, c));
  /** Pushes to the members connected now. */
  const tell = async (ctx: HandlerContext, id: string, msgId: number, body: unknown) => {
    const members = await conversations.members(ctx.uid, id);
    await ctx.push({ uids: members.map((m) => m.uid) }, msgId, body, { persist: false });
  };
  const r = CHAT_REQUEST;
  return defineHandlers({
    name: "chat",
    range: CHAT_RANGE,
    services: { files: "required", redis: "optional" },
    handlers: {
      [r.direct]: (ctx: HandlerContext, body: unknown) =>
        conversations.direct(ctx.uid, parse(directBody, body).peer),
      [r.createGroup]: (ctx: HandlerContext, body: unknown) => {
        const { name, members } = parse(groupBody, body);
        return conversations.createGroup(ctx.uid, name, members);
      },
      [r.addMembers]: (ctx: HandlerContext, body: unknown) => {
        const request = parse(addBody, body);
        return conversations.addMembers(ctx.uid, request.conv, request.uids);
      },
      [r.removeMember]: async (ctx: HandlerContext, body: unknown) => {
        const request = parse(removeBody, body);
        await conversations.removeMember(ctx.uid, request.conv, request.uid);
        return { conv: request.conv, removed: request.uid };
      },
      [r.conversations]: async (ctx: HandlerContext) => ({
        conversations: await conversations.list(ctx.uid),
      }),
      [r.members]: async (ctx: HandlerContext, body: unknown) => ({
        members: await conversations.members(ctx.uid, parse(convBody, body).conv),
      }),
      [r.send]: async (ctx: HandlerContext, body: unknown) => {
        const request = parse(sendBody, body);
        await rate.take(ctx.uid, ctx.services.redis);
        const sent = await messagesOf(ctx).send(ctx.uid, {
          ...request,
          type: request.type as MessageView["type"],
        });
        if (!sent.repeated) {
          const stored = await messagesOf(ctx).after(ctx.uid, sent.conv, sent.seq - 1, 1);
          await tell(ctx, sent.conv, CHAT_PUSH.message, { message: stored.messages[0] });
        }
        return sent;
      },
      [r.sync]: (ctx: HandlerContext, body: unknown) => {
        const request = parse(syncBody, body);
        return messagesOf(ctx).after(ctx.uid, request.conv, request.afterSeq, request.limit ?? 100);
      },
      [r.history]: async (ctx: HandlerContext, body: unknown) => {
        const request = parse(historyBody, body);
        return {
          messages: await messagesOf(ctx).before(
            ctx.uid,
            request.conv,
            request.beforeSeq,
            request.limit ?? 50,
          ),
        };
      },
      [r.ack]: (ctx: HandlerContext, body: unknown) => {
        const request = parse(seqBody, body);
        return messagesOf(ctx).ack(ctx.uid, request.conv, request.seq);
      },
      [r.recall]: async (ctx: HandlerContext, body: unknown) => {
        const request = parse(seqBody, body);
        const recalled = await messagesOf(ctx).recall(ctx.uid, request.conv, request.seq);
        await tell(ctx, request.conv, CHAT_PUSH.recalled, { conv: request.conv, seq: request.seq });
        return recalled;
      },
    },
  });
}
