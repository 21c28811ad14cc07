/**
 * HTTP routes of the task cluster (docs/cluster.md): tasks for publishers at
 * /api/v1/tasks, executors at /api/v1/executors, and the calls executors make
 * about the tasks they run (claim, progress, complete). Off loopback every
 * route needs an API token (the server-wide check).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { GamedockError, bearerToken, intParam, tokenId } from "../core/index.js";
import { TaskStreams, type StreamSettings } from "./events.js";
import { ExecutorDesk } from "./executor-desk.js";
import { TASK_STATUSES, type TaskStatus } from "./model.js";
import {
  completionSchema,
  heartbeatSchema,
  parseReport,
  progressSchema,
  registrationSchema,
} from "./reports.js";
import type { ClusterService } from "./service.js";
import { taskView } from "./views.js";

type Query = Record<string, string | undefined>;

/** Who submitted a task: the token's id, or "local" without tokens. */
const ownerOf = (request: FastifyRequest): string => {
  const token = bearerToken(request.headers.authorization);
  return token ? tokenId(token) : "local";
};

export interface ClusterRoutesOptions {
  service: ClusterService;
  streams: StreamSettings;
  /** Whether executors on other machines may register (the cluster queue is Redis). */
  remoteExecutors: boolean;
}

function taskRoutes(options: ClusterRoutesOptions): FastifyPluginAsync {
  const { service } = options;
  const desk = new ExecutorDesk(service);
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    const streams = new TaskStreams(service, options.streams);

    app.post("/", async (request, reply) => {
      const answer = await service.submit(request.body, ownerOf(request));
      return reply
        .code(answer.created ? 201 : 200)
        .header("location", `/api/v1/tasks/${answer.task.id}`)
        .send({ ...answer.task, cache: answer.cache });
    });

    app.get<{ Querystring: Query }>("/", async (request) => {
      const status = request.query.status;
      if (status !== undefined && !TASK_STATUSES.includes(status as TaskStatus)) {
        throw new GamedockError(
          "E_INVALID_REQUEST",
          `status must be one of ${TASK_STATUSES.join(", ")}`,
          { field: "status" },
        );
      }
      const limit = intParam(request.query.limit, "limit", 1, 500, 50);
      const offset = intParam(request.query.offset, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
      const { rows, total } = await service.tasks.list({
        status: status as TaskStatus | undefined,
        limit,
        offset,
      });
      return { tasks: rows.map(taskView), total, limit, offset };
    });

    app.get<{ Params: { id: string } }>("/:id", (request) => service.get(request.params.id));

    app.post<{ Params: { id: string } }>("/:id/cancel", (request) =>
      service.cancel(request.params.id),
    );

    app.get<{ Params: { id: string } }>("/:id/events", async (request, reply) => {
      await streams.serve(request.params.id, reply);
    });

    // The calls of the executor that runs the task.
    app.post<{ Params: { id: string } }>("/:id/claim", async (request, reply) => {
      const { executor } = parseReport(progressSchema.pick({ executor: true }), request.body);
      const spec = await desk.claim(request.params.id, executor);
      if (!spec) {
        return reply.code(409).send({
          error: {
            code: "E_TASK_STATE",
            message: `task ${request.params.id} is not there to be taken (finished, cancelled, or another executor has it)`,
          },
        });
      }
      return spec;
    });

    app.post<{ Params: { id: string } }>("/:id/progress", async (request, reply) => {
      const report = parseReport(progressSchema, request.body);
      await desk.progress(request.params.id, report.executor, report.status);
      return reply.code(204).send();
    });

    app.post<{ Params: { id: string } }>("/:id/complete", (request) =>
      desk.complete(request.params.id, parseReport(completionSchema, request.body)),
    );
  };
}

function executorRoutes(options: ClusterRoutesOptions): FastifyPluginAsync {
  const desk = new ExecutorDesk(options.service);
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    app.get("/", async () => ({ executors: await desk.listExecutors() }));

    app.post("/", async (request, reply) => {
      const registration = parseReport(registrationSchema, request.body);
      const answer = await desk.register(registration, options.remoteExecutors);
      return reply.code(201).send(answer);
    });

    app.post<{ Params: { id: string } }>("/:id/heartbeat", (request) =>
      desk.heartbeat(request.params.id, parseReport(heartbeatSchema, request.body)),
    );

    app.delete<{ Params: { id: string } }>("/:id", async (request, reply) => {
      await desk.deregister(request.params.id);
      return reply.code(204).send();
    });
  };
}

export async function registerClusterRoutes(
  app: FastifyInstance,
  options: ClusterRoutesOptions,
): Promise<void> {
  await app.register(taskRoutes(options), { prefix: "/api/v1/tasks" });
  await app.register(executorRoutes(options), { prefix: "/api/v1/executors" });
}
