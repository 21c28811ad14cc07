/**
 * A user's top-up orders over HTTP (docs/payments.md), for clients that
 * would rather not create them over the realtime connection:
 *
 *   POST /api/v1/guess/orders       {amount, provider, clientOrderId?} → the order
 *   GET  /api/v1/guess/orders       the user's orders, newest first (cursor, limit)
 *   GET  /api/v1/guess/orders/:id   one of the user's orders
 *
 * The caller is the user of a realtime JWT (`Authorization: Bearer <jwt>`,
 * verified like a WebSocket connection's token), not an API-token holder:
 * the routes are marked `auth: "self"`, so the server-wide API-token check
 * (src/server/http.ts) lets them through and they check the JWT themselves.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import { GamedockError, bearerToken, intParam, invalidField } from "../core/index.js";
import type { Authenticator } from "../realtime/index.js";
import { CLIENT_ORDER_ID, type Orders } from "./orders.js";

const createBody = z
  .object({
    // The range is Orders' to check: its message names the configured limits.
    amount: z.number().int("a whole number of fen"),
    provider: z.enum(["wechat", "alipay"]),
    clientOrderId: z.string().regex(CLIENT_ORDER_ID, "1–64 of A-Z a-z 0-9 _ . : -").optional(),
  })
  .strict();

/** The route authenticates its caller itself: the server-wide API-token check skips it. */
const SELF_AUTH = { auth: "self" } as const;

export function orderRoutes(orders: Orders, authenticator: Authenticator): FastifyPluginAsync {
  /** The uid of the request's realtime JWT; E_TOKEN_INVALID without a valid one. */
  async function userOf(request: FastifyRequest): Promise<string> {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new GamedockError(
        "E_TOKEN_INVALID",
        "send the user's realtime token: Authorization: Bearer <jwt>",
      );
    }
    return (await authenticator.verify(token)).uid;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    app.post("/", { config: SELF_AUTH }, async (request, reply) => {
      const uid = await userOf(request);
      const parsed = createBody.safeParse(request.body ?? {});
      if (!parsed.success) throw invalidField(parsed.error.issues);
      const order = await orders.create(uid, parsed.data);
      return reply.code(order.repeated ? 200 : 201).send(order);
    });

    app.get<{ Querystring: Record<string, string | undefined> }>(
      "/",
      { config: SELF_AUTH },
      async (request) => {
        const uid = await userOf(request);
        return orders.list(uid, {
          cursor: request.query.cursor,
          limit: intParam(request.query.limit, "limit", 1, 200, 50),
        });
      },
    );

    app.get<{ Params: { id: string } }>("/:id", { config: SELF_AUTH }, async (request) => {
      const uid = await userOf(request);
      const order = await orders.get(uid, request.params.id);
      if (!order) {
        throw new GamedockError("E_NOT_FOUND", `no order ${JSON.stringify(request.params.id)}`, {
          orderId: request.params.id,
        });
      }
      return order;
    });
  };
}
