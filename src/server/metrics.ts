/**
 * GET /metrics in the Prometheus text format: process metrics plus the
 * packer's channel counts by state, read from the database at scrape time (so
 * they include workers in other processes).
 */
import type { FastifyInstance } from "fastify";
import type { PackStore } from "../packer/index.js";

export async function registerMetrics(app: FastifyInstance, store: PackStore): Promise<void> {
  const client = await import("prom-client");
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "gamedock_" });
  new client.Gauge({
    name: "gamedock_pack_channels",
    help: "Channels of all pack jobs, by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const rows = await store.db
        .selectFrom("pack_tasks")
        .select(["state", (eb) => eb.fn.countAll<number | string>().as("n")])
        .groupBy("state")
        .execute();
      this.reset();
      for (const row of rows) this.set({ state: row.state }, Number(row.n));
    },
  });
  new client.Gauge({
    name: "gamedock_pack_jobs",
    help: "Pack jobs, by status",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const rows = await store.db
        .selectFrom("pack_jobs")
        .select(["status", (eb) => eb.fn.countAll<number | string>().as("n")])
        .groupBy("status")
        .execute();
      this.reset();
      for (const row of rows) this.set({ status: row.status }, Number(row.n));
    },
  });
  app.get("/metrics", async (_request, reply) =>
    reply.header("content-type", registry.contentType).send(await registry.metrics()),
  );
}
