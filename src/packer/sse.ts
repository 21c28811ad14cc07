/**
 * GET /api/v1/pack-jobs/:id/events: progress as server-sent events.
 * `event: job` carries the whole job view when anything changed; `event: end`
 * follows once the job has finished. Polls the database (so it sees workers in
 * other processes) and wakes at once on changes made in this process.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { PackerContext } from "./context.js";
import { jobView } from "./views.js";

const POLL_MS = 500;
const KEEPALIVE_MS = 15_000;

export async function streamJobEvents(
  ctx: PackerContext,
  jobId: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no", // nginx: do not buffer the stream
  });
  let last = "";
  let closed = false;
  let wake: (() => void) | null = null;
  const onJob = (id: string): void => {
    if (id === jobId) wake?.();
  };
  ctx.events.on("job", onJob);
  request.raw.on("close", () => {
    closed = true;
    wake?.();
  });
  let lastWrite = Date.now();
  try {
    while (!closed && !ctx.signal.aborted) {
      const job = await ctx.store.getJobRow(jobId);
      if (!job) break;
      const view = jobView(job, await ctx.store.tasksOf(jobId));
      const text = JSON.stringify(view);
      if (text !== last) {
        res.write(`event: job\ndata: ${text}\n\n`);
        last = text;
        lastWrite = Date.now();
      } else if (Date.now() - lastWrite > KEEPALIVE_MS) {
        res.write(": keep-alive\n\n");
        lastWrite = Date.now();
      }
      if (job.finished_at !== null) {
        res.write(`event: end\ndata: ${JSON.stringify({ id: jobId, status: view.status })}\n\n`);
        break;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    ctx.events.off("job", onJob);
    res.end();
  }
}
