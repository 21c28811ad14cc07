/**
 * HTTP routes of the packaging service under /api/v1/pack-jobs (DESIGN.md
 * contract; docs/packer-api.md). Errors are thrown as GamedockError and
 * rendered by the server's error handler as `{error: {code, message, details}}`.
 */
import type { FastifyInstance } from "fastify";
import { GamedockError } from "../core/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications, dispatchTask } from "./dispatch.js";
import { createPackJob } from "./job-create.js";
import { JOB_STATUSES, type JobStatus } from "./model.js";
import { streamJobEvents } from "./sse.js";
import { jobSummary, jobView } from "./views.js";

async function loadJob(ctx: PackerContext, id: string) {
  const job = await ctx.store.getJobRow(id);
  if (!job) {
    throw new GamedockError("E_JOB_NOT_FOUND", `no pack job with id ${JSON.stringify(id)}`, { id });
  }
  return job;
}

function intParam(
  value: string | undefined,
  field: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${field} must be an integer from ${min} to ${max}`,
      {
        field,
      },
    );
  }
  return n;
}

export function registerPackRoutes(app: FastifyInstance, ctx: PackerContext): void {
  const base = "/api/v1/pack-jobs";

  app.post(base, async (request, reply) => {
    const view = await createPackJob(ctx, request.body);
    return reply.code(201).header("location", `${base}/${view.id}`).send(view);
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(base, async (request) => {
    const { status } = request.query;
    if (status !== undefined && !JOB_STATUSES.includes(status as JobStatus)) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `status must be one of ${JOB_STATUSES.join(", ")}`,
        { field: "status" },
      );
    }
    const limit = intParam(request.query.limit, "limit", 1, 500, 50);
    const offset = intParam(request.query.offset, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
    const { rows, total } = await ctx.store.listJobs({
      status: status as JobStatus | undefined,
      limit,
      offset,
    });
    const counts = await ctx.store.taskCounts(rows.map((r) => r.id));
    return { jobs: rows.map((r) => jobSummary(r, counts.get(r.id))), total, limit, offset };
  });

  app.get<{ Params: { id: string } }>(`${base}/:id`, async (request) => {
    const job = await loadJob(ctx, request.params.id);
    return jobView(job, await ctx.store.tasksOf(job.id));
  });

  app.post<{ Params: { id: string } }>(`${base}/:id/cancel`, async (request) => {
    const job = await loadJob(ctx, request.params.id);
    const result = await ctx.store.cancel(job.id);
    if (result.finished) {
      throw new GamedockError("E_JOB_STATE", `job ${job.id} has already finished (${job.status})`, {
        id: job.id,
        status: job.status,
      });
    }
    await dispatchNotifications(ctx, job.queue, result.notifications);
    ctx.touched(job.id);
    ctx.logger.info({ event: "job-cancelled", jobId: job.id }, "pack job cancelled");
    const fresh = await loadJob(ctx, job.id);
    return jobView(fresh, await ctx.store.tasksOf(job.id));
  });

  app.post<{ Params: { id: string } }>(`${base}/:id/retry`, async (request) => {
    const job = await loadJob(ctx, request.params.id);
    const requeued = await ctx.store.retry(job.id);
    if (!requeued || requeued.length === 0) {
      throw new GamedockError("E_JOB_STATE", `job ${job.id} has no failed channels to retry`, {
        id: job.id,
        status: job.status,
      });
    }
    ctx.mothers.forget(job.id); // the operator may have replaced a broken mother
    for (const task of requeued) {
      await dispatchTask(ctx, job.queue, { jobId: job.id, channel: task.channel }, "queued");
    }
    ctx.touched(job.id);
    ctx.logger.info(
      { event: "job-retried", jobId: job.id, channels: requeued.length },
      "failed channels re-queued",
    );
    const fresh = await loadJob(ctx, job.id);
    return jobView(fresh, await ctx.store.tasksOf(job.id));
  });

  app.get<{ Params: { id: string } }>(`${base}/:id/events`, async (request, reply) => {
    const job = await loadJob(ctx, request.params.id);
    await streamJobEvents(ctx, job.id, request, reply);
  });

  app.get<{ Params: { id: string; channel: string } }>(
    `${base}/:id/channels/:channel/download`,
    async (request, reply) => {
      const job = await loadJob(ctx, request.params.id);
      const task = await ctx.store.getTask({ jobId: job.id, channel: request.params.channel });
      if (!task?.output_key || (task.state !== "done" && task.state !== "notifying")) {
        throw new GamedockError(
          "E_NOT_FOUND",
          `channel ${JSON.stringify(request.params.channel)} of job ${job.id} has no uploaded child`,
          { id: job.id, channel: request.params.channel },
        );
      }
      const store = await ctx.target(job.target);
      const info = await store.head(task.output_key);
      if (!info) {
        throw new GamedockError(
          "E_NOT_FOUND",
          `object ${task.output_key} is gone from target ${job.target}`,
        );
      }
      const name = task.file_name ?? `${task.channel}.apk`;
      return reply
        .header("content-type", "application/vnd.android.package-archive")
        .header("content-length", String(info.size))
        .header("etag", `"${info.etag.replace(/"/g, "")}"`)
        .header(
          "content-disposition",
          `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        )
        .send(await store.get(task.output_key));
    },
  );
}
