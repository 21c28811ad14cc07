/**
 * GET /api/v1/summary: one small JSON document for the dashboard's overview
 * (docs/dashboard.md), and for anyone scripting a status check.
 *
 * - `parts`: the health of each part this server runs — the database, each
 *   queue, the files target, the task cluster's executors and the realtime
 *   gateways — each `ok`, `degraded`, `down` or `off`, with a detail line.
 *   A part's failure is reported, never thrown: the summary answers 200 as
 *   long as the server itself does.
 * - `counters`: totals a client samples to draw rates (pack channels by
 *   state, pack jobs by status, stored files and bytes, this process's
 *   uploads and downloads, tasks by status,
 *   realtime connections, and the frames the live gateways received and
 *   sent since each started).
 *
 * The counts are grouped counts over whole tables, so they cost more as the
 * tables grow; answers within SUMMARY_MAX_AGE_MS of each other share one
 * computation, so any number of open dashboards polling it costs at most one
 * set of counts a second.
 */
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import type { BlobStore } from "../blob/index.js";
import type { Database } from "../db/index.js";
import type { ClusterService } from "../cluster/index.js";
import type { QueueBackend } from "../queue/index.js";
import { fileTraffic, type FileTraffic } from "../files/index.js";
import type { RealtimeOperations } from "../realtime/index.js";

export type PartState = "ok" | "degraded" | "down" | "off";

export interface PartHealth {
  /** database, queue:<name>, files, target:<name>, executors, gateways */
  part: string;
  state: PartState;
  detail: string;
}

export interface Summary {
  at: string;
  parts: PartHealth[];
  counters: {
    packJobs: Record<string, number>;
    packChannels: Record<string, number>;
    /** count, bytes: stored; uploads…downloadedBytes: this process's transfers since it started. */
    files: { count: number; bytes: number } & FileTraffic;
    tasks: Record<string, number>;
    /**
     * messagesIn / messagesOut: sums over the live gateways of the frames each
     * received from and sent to clients since it started (a gateway that
     * stops takes its share with it).
     */
    realtime: { gateways: number; connections: number; messagesIn: number; messagesOut: number };
  };
}

export interface SummarySources {
  database: Database;
  /** The queue backends by name; each is asked for a sign of life. */
  queues: ReadonlyMap<string, QueueBackend>;
  files: BlobStore;
  filesTarget: string;
  /** The upload targets of pack jobs by name (`targets`), opened on first use. */
  targets: ReadonlyMap<string, () => Promise<BlobStore>>;
  cluster: ClusterService | null;
  realtime: RealtimeOperations | null;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Resolves with the part's health; a failure of `check` is the part being down. */
async function probe(
  part: string,
  check: () => Promise<Omit<PartHealth, "part">>,
): Promise<PartHealth> {
  try {
    return { part, ...(await check()) };
  } catch (err) {
    return { part, state: "down", detail: errorText(err) };
  }
}

async function countsBy(
  database: Database,
  table: "pack_jobs" | "pack_tasks" | "cluster_tasks",
  column: "status" | "state",
): Promise<Record<string, number>> {
  const rows = await database.db
    .selectFrom(table as "pack_jobs")
    .select([
      sql<string>`${sql.ref(column)}`.as("key"),
      (eb) => eb.fn.countAll<number | string>().as("n"),
    ])
    .groupBy(sql.ref(column))
    .execute();
  return Object.fromEntries(rows.map((row) => [row.key, Number(row.n)]));
}

export async function summarize(sources: SummarySources): Promise<Summary> {
  const { database } = sources;
  const gateways = sources.realtime ? await sources.realtime.gateways().catch(() => null) : null;
  // A record a gateway of an older version wrote may lack a counter: it counts 0.
  const total = (field: "connections" | "messagesIn" | "messagesOut"): number =>
    (gateways ?? []).reduce((sum, g) => {
      const n = (g as Record<string, unknown>)[field];
      return sum + (typeof n === "number" ? n : 0);
    }, 0);
  const connections = total("connections");
  const parts = await Promise.all([
    probe("database", async () => {
      await sql`select 1`.execute(database.db);
      return { state: "ok", detail: database.dialect };
    }),
    ...[...sources.queues].map(([name, backend]) =>
      probe(`queue:${name}`, async () => ({
        state: "ok" as const,
        detail: await backend.health(),
      })),
    ),
    probe("files", async () => {
      await sources.files.head("gamedock-summary-probe");
      return { state: "ok", detail: sources.filesTarget };
    }),
    ...[...sources.targets].map(([name, open]) =>
      probe(`target:${name}`, async () => {
        const store = await open();
        await store.head("gamedock-summary-probe");
        return { state: "ok" as const, detail: store.driver };
      }),
    ),
    probe("executors", async () => {
      if (!sources.cluster) return { state: "off", detail: "no task cluster" };
      const executors = await sources.cluster.executors.list();
      const alive = executors.filter((e) => e.state === "alive").length;
      const lost = executors.length - alive;
      const state: PartState =
        alive === 0 ? (lost > 0 ? "down" : "off") : lost > 0 ? "degraded" : "ok";
      return { state, detail: `${alive} alive, ${lost} lost` };
    }),
    probe("gateways", () => {
      if (!sources.realtime)
        return Promise.resolve({ state: "off" as const, detail: "no realtime" });
      if (gateways === null) {
        throw new Error(`the realtime bus (${sources.realtime.busDriver}) did not answer`);
      }
      return Promise.resolve({
        state: gateways.length > 0 ? ("ok" as const) : ("off" as const),
        detail: `${gateways.length} gateway(s), ${connections} connection(s), ${sources.realtime.busDriver} bus`,
      });
    }),
  ]);
  const [packJobs, packChannels, tasks, files] = await Promise.all([
    countsBy(database, "pack_jobs", "status"),
    countsBy(database, "pack_tasks", "state"),
    countsBy(database, "cluster_tasks", "status"),
    database.db
      .selectFrom("files")
      .select([
        (eb) => eb.fn.countAll<number | string>().as("count"),
        (eb) => eb.fn.sum<number | string | null>("size").as("bytes"),
      ])
      .executeTakeFirstOrThrow(),
  ]);
  return {
    at: new Date().toISOString(),
    parts,
    counters: {
      packJobs,
      packChannels,
      files: { count: Number(files.count), bytes: Number(files.bytes ?? 0), ...fileTraffic() },
      tasks,
      realtime: {
        gateways: gateways?.length ?? 0,
        connections,
        messagesIn: total("messagesIn"),
        messagesOut: total("messagesOut"),
      },
    },
  };
}

/** How long one computed summary answers every request: bounds the work however many poll. */
export const SUMMARY_MAX_AGE_MS = 1000;

/**
 * `compute`, shared: calls within `maxAgeMs` of the last computation's start
 * get its answer (in flight or done); a failed computation is not reused.
 */
export function sharedSummary(
  compute: () => Promise<Summary>,
  maxAgeMs = SUMMARY_MAX_AGE_MS,
  now: () => number = Date.now,
): () => Promise<Summary> {
  let last: { startedAt: number; answer: Promise<Summary> } | null = null;
  return () => {
    const at = now();
    if (last && at - last.startedAt < maxAgeMs) return last.answer;
    const answer = compute();
    const entry = { startedAt: at, answer };
    last = entry;
    answer.catch(() => {
      if (last === entry) last = null;
    });
    return answer;
  };
}

export function registerSummary(app: FastifyInstance, sources: SummarySources): void {
  const summary = sharedSummary(() => summarize(sources));
  app.get("/api/v1/summary", () => summary());
}
