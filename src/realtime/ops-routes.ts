/**
 * The realtime operations API (docs/realtime.md "Operations"), under
 * /api/v1/realtime — protected like every /api route off loopback:
 *
 *   GET    /gateways                       live gateways and their connections
 *   GET    /logic-groups                   each logic group's backlog and workers
 *   GET    /users/:uid                     the gateways holding a uid, its groups
 *   POST   /users/:uid/kick {reason?}      close its connections with 4403
 *   PUT    /groups/:group/members/:uid     add a uid to an application group
 *   DELETE /groups/:group/members/:uid     remove it
 */
import type { FastifyInstance } from "fastify";
import { GamedockError, textProblem } from "../core/index.js";
import type { AppGroups } from "./groups.js";
import type { RealtimeOperations } from "./operations.js";

const PREFIX = "/api/v1/realtime";
const MAX_REASON = 100;

interface UidParams {
  uid: string;
}
interface MemberParams extends UidParams {
  group: string;
}

function kickReason(body: unknown): string {
  if (body === undefined || body === null) return "kicked by an operator";
  const reason = (body as { reason?: unknown }).reason;
  if (reason === undefined) return "kicked by an operator";
  if (typeof reason !== "string" || reason.length > MAX_REASON) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `reason must be a string of at most ${MAX_REASON} characters (it is the close reason)`,
    );
  }
  const problem = textProblem(reason);
  if (problem) throw new GamedockError("E_INVALID_REQUEST", `reason ${problem}`);
  return reason;
}

export function registerOperationsRoutes(
  app: FastifyInstance,
  operations: RealtimeOperations,
  groups: AppGroups,
): void {
  app.get(`${PREFIX}/gateways`, async () => ({ gateways: await operations.gateways() }));
  app.get(`${PREFIX}/logic-groups`, async () => ({ groups: await operations.logicGroups() }));
  app.get<{ Params: UidParams }>(`${PREFIX}/users/:uid`, (request) =>
    operations.user(request.params.uid),
  );
  app.post<{ Params: UidParams }>(`${PREFIX}/users/:uid/kick`, (request) =>
    operations.kick(request.params.uid, kickReason(request.body)),
  );
  app.put<{ Params: MemberParams }>(`${PREFIX}/groups/:group/members/:uid`, (request) =>
    groups.join(request.params.uid, request.params.group),
  );
  app.delete<{ Params: MemberParams }>(`${PREFIX}/groups/:group/members/:uid`, (request) =>
    groups.leave(request.params.uid, request.params.group),
  );
}
