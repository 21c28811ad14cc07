/**
 * Guessing over the realtime connection (note 003's `logic`): the handler
 * module for msgIds 2000–2999 that `serve` and `gamedock logic` load beside
 * the configured ones (docs/guess.md, "Over the realtime connection"). The
 * caller is the connection's uid; users see approved matches only.
 *
 * Placing a bet is idempotent by (uid, clientBetId), so a request the
 * runtime delivers again after a worker died debits once.
 */
import { z } from "zod";
import { GamedockError, invalidField } from "../core/index.js";
import { defineHandlers, type HandlerContext, type HandlerModule } from "../realtime/index.js";
import type { Bets } from "./bets.js";
import { id } from "./feed.js";
import type { Matches } from "./matches.js";
import { CLIENT_ORDER_ID, type Orders } from "./orders.js";
import { GUESS_RANGE, GUESS_REQUEST, followGroup } from "./msg-ids.js";
import type { Reservations } from "./reservations.js";
import type { Wallets } from "./wallet.js";

export interface GuessHandlerDeps {
  matches: Matches;
  bets: Bets;
  wallets: Wallets;
  reservations: Reservations;
  orders: Orders;
}

const matchId = z.string().regex(/^[A-Za-z0-9-]{1,40}$/, "a match id");
const cursor = z.string().max(400);
const limit = (max: number) => z.number().int().min(1).max(max);

const listBody = z
  .object({
    type: z
      .string()
      .regex(/^[a-z0-9_-]{1,32}$/, "1–32 of a-z 0-9 _ -")
      .optional(),
    status: z.enum(["doing", "finished"]).optional(),
    cursor: cursor.optional(),
    limit: limit(100).optional(),
  })
  .strict();
const matchBody = z.object({ matchId }).strict();
const betBody = z
  .object({
    matchId,
    optionId: id,
    stake: z.number().int(),
    clientBetId: id,
    odds: z.number().int().optional(),
  })
  .strict();
const myBetsBody = z
  .object({ matchId: matchId.optional(), cursor: cursor.optional(), limit: limit(100).optional() })
  .strict();
const walletBody = z.object({ cursor: cursor.optional(), limit: limit(100).optional() }).strict();
const topUpBody = z
  .object({
    amount: z.number().int(),
    provider: z.enum(["wechat", "alipay"]),
    clientOrderId: z.string().regex(CLIENT_ORDER_ID, "1–64 of A-Z a-z 0-9 _ . : -").optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw invalidField(parsed.error.issues);
  return parsed.data;
}

async function visibleMatch(matches: Matches, id: string) {
  const match = await matches.get(id);
  if (!match?.approved) {
    throw new GamedockError("E_NOT_FOUND", `no match ${JSON.stringify(id)}`, { field: "matchId" });
  }
  return match;
}

export function guessHandlerModule(deps: GuessHandlerDeps): HandlerModule {
  const { matches, bets, wallets, reservations, orders } = deps;
  const r = GUESS_REQUEST;
  return defineHandlers({
    name: "guess",
    range: GUESS_RANGE,
    handlers: {
      [r.listMatches]: async (_ctx: HandlerContext, body: unknown) => {
        const query = parse(listBody, body);
        return matches.list({
          type: query.type,
          status: query.status ?? "doing",
          cursor: query.cursor,
          limit: query.limit ?? 20,
        });
      },
      [r.match]: async (_ctx: HandlerContext, body: unknown) =>
        visibleMatch(matches, parse(matchBody, body).matchId),
      [r.follow]: async (ctx: HandlerContext, body: unknown) => {
        const match = await visibleMatch(matches, parse(matchBody, body).matchId);
        await ctx.groups.join(ctx.uid, followGroup(match.id));
        return { matchId: match.id, following: true };
      },
      [r.unfollow]: async (ctx: HandlerContext, body: unknown) => {
        const { matchId: id } = parse(matchBody, body);
        await ctx.groups.leave(ctx.uid, followGroup(id));
        return { matchId: id, following: false };
      },
      [r.placeBet]: async (ctx: HandlerContext, body: unknown) =>
        bets.place(ctx.uid, parse(betBody, body)),
      [r.myBets]: async (ctx: HandlerContext, body: unknown) => {
        const query = parse(myBetsBody, body);
        return bets.list(ctx.uid, {
          matchId: query.matchId,
          cursor: query.cursor,
          limit: query.limit ?? 20,
        });
      },
      [r.wallet]: async (ctx: HandlerContext, body: unknown) => {
        const query = parse(walletBody, body);
        const history = await wallets.history(ctx.uid, {
          cursor: query.cursor,
          limit: query.limit ?? 20,
        });
        return { balance: await wallets.balance(ctx.uid), ...history };
      },
      [r.reserve]: async (ctx: HandlerContext, body: unknown) => ({
        ...(await reservations.reserve(ctx.uid, parse(matchBody, body).matchId)),
        reserved: true,
      }),
      [r.unreserve]: async (ctx: HandlerContext, body: unknown) => {
        const { matchId: id } = parse(matchBody, body);
        await reservations.cancel(ctx.uid, id);
        return { matchId: id, reserved: false };
      },
      [r.topUp]: async (ctx: HandlerContext, body: unknown) =>
        orders.create(ctx.uid, parse(topUpBody, body)),
    },
  });
}
