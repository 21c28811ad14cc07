/**
 * HTTP routes of the packaging service, as a fastify plugin mounted at
 * /api/v1/pack-jobs (docs/packer-api.md). Errors are thrown as GamedockError
 * and answered by the server's error handler as `{error: {code, message, details}}`.
 */
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { sendBlob } from "../blob/index.js";
import { GamedockError, enumParam, intParam } from "../core/index.js";
import type { PackerContext } from "./context.js";
import { signedChildPath, verifyChildLink } from "./child-link.js";
import { dispatchNotifications, dispatchTask } from "./dispatch.js";
import { JobStreams } from "./events/streams.js";
import { createPackJob, dryRunPackJob } from "./job-create.js";
import { JOB_STATUSES, TASK_STATES, type JobStatus, type TaskState } from "./model.js";
import { listPackages, packageQuery, singleParam } from "./package-list.js";
import { jobSummary, jobView, decodeCursor } from "./views.js";

export const PACK_JOBS_PREFIX = "/api/v1/pack-jobs";
export const PACKAGES_PATH = "/api/v1/packages";
const MAX_PAGE = 1000;

type Query = Record<string, string | undefined>;

/** A signed link to a child works at most a week. */
const MAX_LINK_TTL_SECONDS = 7 * 24 * 3600;

function notFound(id: string): GamedockError {
  return new GamedockError("E_JOB_NOT_FOUND", `no pack job with id ${JSON.stringify(id)}`, { id });
}

/** The job with counts and one page of channels, read as one snapshot. */
async function readJob(ctx: PackerContext, id: string, query: Query = {}) {
  const after = decodeCursor(query.cursor);
  if (after === "invalid") {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      "cursor must be a nextCursor value from an earlier answer",
      { field: "cursor" },
    );
  }
  const limit = intParam(query.limit, "limit", 1, MAX_PAGE, MAX_PAGE);
  const state = enumParam<TaskState>(query.state, "state", TASK_STATES);
  const snapshot = await ctx.store.jobs.snapshot(id, { after, limit, state });
  if (!snapshot) throw notFound(id);
  return jobView(snapshot.job, snapshot.counts, snapshot.page);
}

/** `?dryRun=true` or `?dryRun=1`: check, do not create. Any other value is refused. */
function isDryRun(query: Record<string, unknown>): boolean {
  const value = singleParam(query.dryRun, "dryRun");
  if (value === undefined) return false;
  if (value === "true" || value === "1") return true;
  throw new GamedockError(
    "E_INVALID_REQUEST",
    `dryRun must be true or 1 (or left out), not ${JSON.stringify(value)}`,
    { field: "dryRun" },
  );
}

async function requeueFailed(ctx: PackerContext, jobId: string, queue: string): Promise<void> {
  let after = -1;
  for (;;) {
    const page = await ctx.store.jobs.queuedUndispatched(jobId, after, MAX_PAGE);
    for (const task of page) {
      await dispatchTask(ctx, queue, { jobId, channel: task.channel }, "queued");
    }
    const last = page.at(-1);
    if (page.length < MAX_PAGE || !last) return;
    after = last.seq;
  }
}

function routes(ctx: PackerContext): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    const streams = new JobStreams(ctx);

    app.post<{ Querystring: Record<string, unknown> }>("/", async (request, reply) => {
      if (isDryRun(request.query)) return dryRunPackJob(ctx, request.body);
      const view = await createPackJob(ctx, request.body);
      return reply.code(201).header("location", `${PACK_JOBS_PREFIX}/${view.id}`).send(view);
    });

    app.get<{ Querystring: Query }>("/", async (request) => {
      const status = enumParam<JobStatus>(request.query.status, "status", JOB_STATUSES);
      const limit = intParam(request.query.limit, "limit", 1, 500, 50);
      const offset = intParam(request.query.offset, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
      const { rows, total } = await ctx.store.jobs.list({ status, limit, offset });
      const counts = await ctx.store.jobs.counts(rows.map((r) => r.id));
      const jobs = rows.map((row) => {
        const c = counts.get(row.id);
        if (!c) throw new GamedockError("E_INTERNAL", `no counts for job ${row.id}`);
        return jobSummary(row, c);
      });
      return { jobs, total, limit, offset };
    });

    app.get<{ Params: { id: string }; Querystring: Query }>("/:id", (request) =>
      readJob(ctx, request.params.id, request.query),
    );

    app.post<{ Params: { id: string } }>("/:id/cancel", async (request) => {
      const { id } = request.params;
      const result = await ctx.store.jobs.cancel(id, (trx, job) =>
        ctx.store.outbox.finishJobIfComplete(trx, job),
      );
      if (!result.found) throw notFound(id);
      const job = await ctx.store.jobs.get(id);
      if (!job) throw notFound(id);
      if (result.finished) {
        throw new GamedockError("E_JOB_STATE", `job ${id} has already finished (${job.status})`, {
          id,
          status: job.status,
        });
      }
      await dispatchNotifications(ctx, job.queue, result.notifications);
      ctx.touched(id);
      ctx.logger.info({ event: "job-cancelled", jobId: id }, "pack job cancelled");
      return readJob(ctx, id);
    });

    app.post<{ Params: { id: string } }>("/:id/retry", async (request) => {
      const { id } = request.params;
      const requeued = await ctx.store.jobs.retry(id);
      if (requeued === null) throw notFound(id);
      const job = await ctx.store.jobs.get(id);
      if (!job) throw notFound(id);
      if (requeued === 0) {
        throw new GamedockError("E_JOB_STATE", `job ${id} has no failed channels to retry`, {
          id,
          status: job.status,
        });
      }
      ctx.mothers.forget(id); // the operator may have replaced a broken mother
      await requeueFailed(ctx, id, job.queue);
      ctx.touched(id);
      ctx.logger.info(
        { event: "job-retried", jobId: id, channels: requeued },
        "failed channels re-queued",
      );
      return readJob(ctx, id);
    });

    app.get<{ Params: { id: string }; Querystring: Query }>(
      "/:id/events",
      async (request, reply) => {
        const since = request.query.since;
        const from =
          since === undefined ? null : intParam(since, "since", 0, Number.MAX_SAFE_INTEGER, 0);
        await streams.serve(request.params.id, from, request, reply);
      },
    );

    /** The job and its channel's task, when the channel has an uploaded child. */
    async function uploadedChild(jobId: string, channel: string) {
      const job = await ctx.store.jobs.get(jobId);
      if (!job) throw notFound(jobId);
      const task = await ctx.store.tasks.get({ jobId: job.id, channel });
      if (!task?.output_key || (task.state !== "done" && task.state !== "notifying")) {
        throw new GamedockError(
          "E_NOT_FOUND",
          `channel ${JSON.stringify(channel)} of job ${job.id} has no uploaded child`,
          { id: job.id, channel },
        );
      }
      return { job, task: { ...task, output_key: task.output_key } };
    }

    app.post<{ Params: { id: string; channel: string }; Querystring: Query }>(
      "/:id/channels/:channel/sign",
      async (request) => {
        const { job, task } = await uploadedChild(request.params.id, request.params.channel);
        if (!ctx.signingKey) {
          throw new GamedockError(
            "E_SERVICE_UNAVAILABLE",
            "this process has no signing key: signed links are made by gamedock serve",
          );
        }
        const ttl = intParam(request.query.ttl, "ttl", 1, MAX_LINK_TTL_SECONDS, 3600);
        const expires = Math.floor(Date.now() / 1000) + ttl;
        return {
          url: signedChildPath(ctx.signingKey, job.id, task.channel, expires),
          expiresAt: new Date(expires * 1000).toISOString(),
        };
      },
    );

    app.get<{ Params: { id: string; channel: string }; Querystring: Query }>(
      "/:id/channels/:channel/download",
      // A link with sig/expires is judged by its signature alone (a browser
      // download cannot send the token); without them the token is checked.
      { config: { auth: "token-or-signature" } },
      async (request, reply) => {
        if (request.query.sig !== undefined || request.query.expires !== undefined) {
          if (!ctx.signingKey) throw new GamedockError("E_SIGNATURE", "signed links are off here");
          verifyChildLink(ctx.signingKey, request.params.id, request.params.channel, request.query);
        }
        const { job, task } = await uploadedChild(request.params.id, request.params.channel);
        const key = task.output_key;
        const store = await ctx.target(job.target);
        const info = await store.head(key);
        if (!info) {
          throw new GamedockError(
            "E_NOT_FOUND",
            `the child of channel ${JSON.stringify(task.channel)} is gone from target ${job.target}`,
          );
        }
        // Range, If-Range, ETag (the child's sha256), HEAD and a Content-Disposition
        // whose ASCII fallback keeps Chinese names apart: resumable like /files.
        reply.hijack();
        await sendBlob(
          request.raw,
          reply.raw,
          {
            etag: `"${task.output_sha256 ?? info.etag.replace(/"/g, "")}"`,
            size: info.size,
            lastModified: info.lastModified,
            contentType: "application/vnd.android.package-archive",
            name: task.file_name ?? `${task.channel}.apk`,
            open: (range) => store.get(key, range),
            localPath: store.localPath(key),
          },
          {
            requestId: request.id,
            onError: (err, internal) => {
              if (internal) {
                ctx.logger.error({ requestId: request.id, err, jobId: job.id }, "download failed");
              }
            },
          },
        );
        return reply;
      },
    );
  };
}

/** Mounts the packaging API at /api/v1/pack-jobs, and the list of mothers at /api/v1/packages. */
export async function registerPackRoutes(app: FastifyInstance, ctx: PackerContext): Promise<void> {
  await app.register(routes(ctx), { prefix: PACK_JOBS_PREFIX });
  app.get<{ Querystring: Record<string, unknown> }>(PACKAGES_PATH, (request) =>
    listPackages(ctx.settings.packagesRoot, packageQuery(request.query)),
  );
}
