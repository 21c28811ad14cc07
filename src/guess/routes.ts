/**
 * HTTP routes of match guessing (docs/guess.md, "HTTP API"): the admin API
 * (note 003's `gm`) under /api/v1/guess/admin — import a feed, the lifecycle
 * actions, a match, wallet lookup and adjustment, the audit trail — and the
 * match lists under
 * /api/v1/guess/matches. Off loopback every route needs an API token (the
 * server-wide check); the token's id is the audit's actor.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  GamedockError,
  bearerToken,
  enumParam,
  intParam,
  invalidField,
  textProblem,
  tokenId,
  zoneOffsetMs,
} from "../core/index.js";
import type { Database } from "../db/index.js";
import { listAudit, writeAudit } from "./audit.js";
import { MAX_OPTIONS, id, odds, parseFeed, text } from "./feed.js";
import type { MatchAction } from "./match-states.js";
import { MATCH_STATUSES, type Matches } from "./matches.js";
import type { Settlement } from "./settlement.js";
import type { GuessStats } from "./stats.js";
import type { Wallets } from "./wallet.js";

type Query = Record<string, string | undefined>;

/** Who acts: the API token's id, or "local" on loopback without tokens. */
function actorOf(request: FastifyRequest): string {
  const token = bearerToken(request.headers.authorization);
  return token ? `token:${tokenId(token)}` : "local";
}

/** URL words of the admin actions. */
const ACTIONS: Record<string, MatchAction> = {
  approve: "approve",
  open: "open",
  close: "close",
  start: "start",
  result: "result",
  "no-result": "noResult",
  cancel: "cancel",
  archive: "archive",
};

const reason = text(500);

const actionBody = z
  .object({ reason: reason.optional(), result: z.string().max(64).optional() })
  .strict();

/** New odds by option id (× 1000, as the feed's), and why. */
const oddsBody = z
  .object({
    odds: z
      .record(id, odds)
      .refine((o) => Object.keys(o).length > 0 && Object.keys(o).length <= MAX_OPTIONS, {
        message: `1–${MAX_OPTIONS} options`,
      }),
    reason: reason.optional(),
  })
  .strict();

/** A wallet adjustment: signed minor units, why, and the caller's id for it (a retry repeats it). */
const adjustBody = z
  .object({
    amount: z
      .number()
      .int()
      .refine((n) => n !== 0 && Number.isSafeInteger(n), "a non-zero whole number of minor units"),
    reason,
    requestId: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "1–64 of A-Z a-z 0-9 _ . : -"),
  })
  .strict();

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw invalidField(parsed.error.issues);
  return parsed.data;
}

/** A uid in a path: what the realtime tokens carry (1–128 characters of well-formed text). */
function uidParam(uid: string): string {
  const problem = uid.length === 0 || uid.length > 128 ? "1–128 characters" : textProblem(uid);
  if (problem !== null) {
    throw new GamedockError("E_INVALID_REQUEST", `uid: ${problem}`, { field: "uid" });
  }
  return uid;
}

const MATCH_TYPE = /^[a-z0-9_-]{1,32}$/;

function listQuery(query: Query) {
  if (query.type !== undefined && !MATCH_TYPE.test(query.type)) {
    throw new GamedockError("E_INVALID_REQUEST", "type must be 1–32 of a-z 0-9 _ -", {
      field: "type",
    });
  }
  return {
    type: query.type,
    status: enumParam(query.status, "status", MATCH_STATUSES),
    cursor: query.cursor,
    limit: intParam(query.limit, "limit", 1, 200, 50),
  };
}

function notFound(id: string): GamedockError {
  return new GamedockError("E_NOT_FOUND", `no match ${JSON.stringify(id)}`, { matchId: id });
}

function adminRoutes(
  { matches, wallets, settlement, stats }: GuessRouteServices,
  database: Database,
): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    app.post("/matches/import", async (request) => {
      const feed = parseFeed(request.body);
      const results = await matches.importFeed(feed.matches, actorOf(request));
      return { results };
    });

    app.get<{ Params: { id: string } }>("/matches/:id", async (request) => {
      const match = await matches.get(request.params.id);
      if (!match) throw notFound(request.params.id);
      return { ...match, settlement: await settlement.progress(match.id) };
    });

    app.get<{ Querystring: Query }>("/matches", async (request) =>
      matches.list(listQuery(request.query)),
    );

    app.post<{ Params: { id: string } }>("/matches/:id/odds", async (request) => {
      const body = parseBody(oddsBody, request.body);
      return matches.setOdds(request.params.id, body.odds, {
        actor: actorOf(request),
        reason: body.reason,
      });
    });

    app.post<{ Params: { id: string; action: string } }>(
      "/matches/:id/:action",
      async (request) => {
        const action = ACTIONS[request.params.action];
        if (action === undefined) {
          throw new GamedockError(
            "E_INVALID_REQUEST",
            `unknown action ${JSON.stringify(request.params.action)}; one of ${Object.keys(ACTIONS).join(", ")}`,
            { field: "action" },
          );
        }
        const body = parseBody(actionBody, request.body);
        if (action === "result" && body.result === undefined) {
          throw new GamedockError("E_INVALID_REQUEST", "result needs the winning option's id", {
            field: "result",
          });
        }
        return matches.act(request.params.id, action, {
          actor: actorOf(request),
          reason: body.reason,
          result: body.result,
        });
      },
    );

    app.get<{ Params: { uid: string }; Querystring: Query }>("/wallets/:uid", async (request) => {
      const uid = uidParam(request.params.uid);
      const history = await wallets.history(uid, {
        cursor: request.query.cursor,
        limit: intParam(request.query.limit, "limit", 1, 500, 50),
      });
      return { uid, balance: await wallets.balance(uid), ...history };
    });

    app.post<{ Params: { uid: string } }>("/wallets/:uid/adjust", async (request) => {
      const uid = uidParam(request.params.uid);
      const body = parseBody(adjustBody, request.body);
      const actor = actorOf(request);
      const posted = await wallets.post(
        {
          cause: `adjust:${body.requestId}`,
          uid,
          kind: "adjust",
          amount: body.amount,
          reason: body.reason,
        },
        (trx, done) =>
          writeAudit(trx, {
            at: Date.now(),
            actor,
            action: "adjust",
            uid,
            before: { balance: done.balanceAfter - body.amount },
            after: { balance: done.balanceAfter },
            reason: body.reason,
          }),
      );
      return { uid, applied: posted.applied, balance: posted.balanceAfter };
    });

    app.get<{ Querystring: Query }>("/stats/daily", async (request) => {
      // Default: the last 7 days of the zone, today included.
      const today = new Date(Date.now() + zoneOffsetMs(stats.timeZone, Date.now()));
      const day = (d: Date) => d.toISOString().slice(0, 10);
      return stats.daily({
        from: request.query.from ?? day(new Date(today.getTime() - 6 * 86_400_000)),
        to: request.query.to ?? day(today),
      });
    });

    app.get<{ Params: { id: string } }>("/stats/matches/:id", async (request) => {
      if (!(await matches.get(request.params.id))) throw notFound(request.params.id);
      return stats.match(request.params.id);
    });

    app.get<{ Querystring: Query }>("/audit", async (request) =>
      listAudit(database.db, {
        matchId: request.query.matchId,
        action: request.query.action,
        actor: request.query.actor,
        cursor: request.query.cursor,
        limit: intParam(request.query.limit, "limit", 1, 500, 100),
      }),
    );
  };
}

function publicRoutes(matches: Matches): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: Query }>("/", async (request) => {
      const query = listQuery(request.query);
      // Users never see matches awaiting approval.
      if (query.status === "pending") {
        throw new GamedockError(
          "E_INVALID_REQUEST",
          "status must be doing or finished (pending matches are on the admin list)",
          { field: "status" },
        );
      }
      return matches.list({ ...query, status: query.status ?? "doing" });
    });

    app.get<{ Params: { id: string } }>("/:id", async (request) => {
      const match = await matches.get(request.params.id);
      if (!match?.approved) throw notFound(request.params.id);
      return match;
    });
  };
}

/** What the routes work with. */
export interface GuessRouteServices {
  matches: Matches;
  wallets: Wallets;
  settlement: Settlement;
  stats: GuessStats;
}

export async function registerGuessRoutes(
  app: FastifyInstance,
  services: GuessRouteServices,
  database: Database,
): Promise<void> {
  await app.register(adminRoutes(services, database), { prefix: "/api/v1/guess/admin" });
  await app.register(publicRoutes(services.matches), { prefix: "/api/v1/guess/matches" });
}
