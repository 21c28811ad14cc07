/**
 * Chat's operations API for support staff (docs/chat.md, "Operations"),
 * under /api/v1/chat — protected like every /api route off loopback:
 *
 *   GET /stats                                    totals, messages by day, unread backlog
 *   GET /conversations?kind=&q=&cursor=&limit=    most recently active first
 *   GET /conversations/:conv/messages?beforeSeq=&limit=   history, newest first
 *
 * A bad query value is E_INVALID_REQUEST naming the parameter; an unknown
 * conversation is E_NOT_FOUND.
 */
import type { FastifyInstance } from "fastify";
import { GamedockError, enumParam, intParam, textProblem } from "../core/index.js";
import type { ChatAdmin, ChatStats } from "./admin.js";

const PREFIX = "/api/v1/chat";
export const ADMIN_MAX_PAGE = 200;
const DEFAULT_PAGE = 50;
/** The longest q: a uid (1–128 characters) or a part of a group name (at most 100). */
const MAX_Q = 128;
/** Requests within this long of each other share one computation of the stats. */
const STATS_MAX_AGE_MS = 1000;

type Query = Record<string, string | string[] | undefined>;

/** `?field=` given at most once. */
function single(query: Query, field: string): string | undefined {
  const value = query[field];
  if (Array.isArray(value)) {
    throw new GamedockError("E_INVALID_REQUEST", `${field} may be given once`, { field });
  }
  return value;
}

function searchParam(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  const problem = value.length > MAX_Q ? `at most ${MAX_Q} characters` : textProblem(value);
  if (problem !== null) {
    throw new GamedockError("E_INVALID_REQUEST", `q: ${problem}`, { field: "q" });
  }
  return value;
}

/** `compute`, shared by the calls within maxAgeMs of its start; a failure is not reused. */
function shared<T>(compute: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; answer: Promise<T> } | null = null;
  return () => {
    const at = Date.now();
    if (last && at - last.at < maxAgeMs) return last.answer;
    const entry = { at, answer: compute() };
    last = entry;
    entry.answer.catch(() => {
      if (last === entry) last = null;
    });
    return entry.answer;
  };
}

export function registerChatAdminRoutes(app: FastifyInstance, admin: ChatAdmin): void {
  const stats: () => Promise<ChatStats> = shared(() => admin.stats(), STATS_MAX_AGE_MS);
  app.get(`${PREFIX}/stats`, () => stats());

  app.get<{ Querystring: Query }>(`${PREFIX}/conversations`, (request) => {
    const query = request.query;
    return admin.conversations({
      kind: enumParam(single(query, "kind"), "kind", ["direct", "group"] as const),
      q: searchParam(single(query, "q")),
      cursor: single(query, "cursor"),
      limit: intParam(single(query, "limit"), "limit", 1, ADMIN_MAX_PAGE, DEFAULT_PAGE),
    });
  });

  app.get<{ Params: { conv: string }; Querystring: Query }>(
    `${PREFIX}/conversations/:conv/messages`,
    (request) => {
      const query = request.query;
      const beforeSeq = single(query, "beforeSeq");
      return admin.history(
        request.params.conv,
        beforeSeq === undefined
          ? undefined
          : intParam(beforeSeq, "beforeSeq", 0, Number.MAX_SAFE_INTEGER, 0),
        intParam(single(query, "limit"), "limit", 1, ADMIN_MAX_PAGE, DEFAULT_PAGE),
      );
    },
  );
}
