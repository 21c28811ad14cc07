/**
 * bench:realtime's tables, printed as Markdown so that a run can be pasted
 * into docs/benchmarks.md: every step of every server, the summary with the
 * ratios to the relay baseline and the targets, and idle memory.
 */
import type { StepResult } from "./realtime-load.js";
import { SERVER_NAMES, type ServerKey } from "./realtime-servers.js";

export interface StepRow extends StepResult {
  ok: boolean;
  /** CPU of the server's processes (and of redis-server, for the servers that use it), in cores. */
  serverCores: number;
  /** The same per process (gateway, worker). */
  procCores: number[];
  redisCores: number | null;
  /** The whole machine, in cores busy; and what was not ours (other sessions' work). */
  machineCores: number;
  otherCores: number;
  /** How long the step waited for a quiet machine, and how busy it was in the last second before. */
  quietWaitMs: number;
  busyBefore: number;
  /** Why the step was measured again, if it was. */
  note: string;
}

export interface ServerRun {
  key: ServerKey;
  names: string[];
  steps: StepRow[];
  /** VmHWM of each process at the end of its run, KiB. */
  peakKiB: number[];
}

export interface IdleRow {
  key: ServerKey;
  name: string;
  open: number;
  failed: number;
  connectSeconds: number;
  beforeKiB: number;
  afterKiB: number;
  peakKiB: number;
  heapBeforeKiB: number;
  heapAfterKiB: number;
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : "∞");
const cores = (v: number | null): string => (v === null ? "–" : v.toFixed(2));
const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;
const int = (v: number): string => Math.round(v).toLocaleString("en-US");

function table(header: string[], rows: string[][]): void {
  console.log(`| ${header.join(" | ")} |`);
  console.log(`| ${header.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
}

/** The highest rate sustained (steps are not monotone once bisecting: take the best passing one). */
export function best(run: ServerRun): StepRow | null {
  return run.steps.filter((s) => s.ok).sort((a, b) => b.rate - a.rate)[0] ?? null;
}

/** The step at a rate (the last, when it was measured again). */
const at = (run: ServerRun, rate: number): StepRow | undefined =>
  run.steps.findLast((s) => s.rate === rate);

export function printSteps(runs: ServerRun[]): void {
  for (const run of runs) {
    console.log(`\n### ${SERVER_NAMES[run.key]} — every step\n`);
    table(
      [
        "offered msg/s",
        "sent",
        "achieved msg/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "unanswered",
        "server CPU",
        "Redis CPU",
        "generator CPU",
        "machine busy (others)",
        "",
      ],
      run.steps.map((s) => [
        int(s.rate),
        int(s.sent),
        int(s.achieved),
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        int(s.unanswered),
        s.procCores.length > 1
          ? s.procCores.map((c) => cores(c)).join(" + ")
          : cores(s.serverCores),
        cores(s.redisCores),
        cores(s.cpuCores),
        `${cores(s.machineCores)} (${cores(s.otherCores)})`,
        (s.ok ? "sustained" : `missed${s.errors > 0 ? ` (${s.errors} errors)` : ""}`) +
          (s.note ? ` (${s.note})` : ""),
      ]),
    );
  }
}

export function printSummary(
  runs: ServerRun[],
  options: { connections: number; p99Bound: number },
): void {
  const relay = runs.find((r) => r.key === "relay");
  const relayRate = relay ? (best(relay)?.rate ?? 0) : 0;
  console.log(
    `\n### Summary — ${int(options.connections)} connections; CPU in cores (of 2) at the highest rate sustained\n`,
  );
  table(
    [
      "server",
      "sustained msg/s",
      "ratio to relay",
      "p50 / p99 at 2,000 msg/s",
      "p99 at sustained",
      "server CPU",
      "Redis CPU",
      "generator CPU",
      "peak RSS",
    ],
    runs.map((run) => {
      const top = best(run);
      const two = at(run, 2000);
      return [
        SERVER_NAMES[run.key],
        top ? int(top.rate) : `< ${int(run.steps[0]?.rate ?? 0)}`,
        top && relayRate > 0 ? (top.rate / relayRate).toFixed(2) : "–",
        two ? `${ms(two.p50)} / ${ms(two.p99)} ms` : "–",
        top ? `${ms(top.p99)} ms` : "–",
        top ? top.procCores.map((c) => cores(c)).join(" + ") : "–",
        top ? cores(top.redisCores) : "–",
        top ? cores(top.cpuCores) : "–",
        run.names.map((name, i) => `${name} ${mib(run.peakKiB[i] ?? 0)}`).join(", "),
      ];
    }),
  );
  const gamedock = runs.find((r) => r.key === "redis");
  if (!gamedock) return;
  const top = best(gamedock);
  const ratio = top && relayRate > 0 ? top.rate / relayRate : null;
  const two = at(gamedock, 2000);
  console.log("\nTargets (gamedock on Redis):");
  console.log(
    `  sustained ≥ 0.5 × relay: ${ratio === null ? "not measured" : `${ratio.toFixed(2)} (${int(top?.rate ?? 0)} vs ${int(relayRate)} msg/s) — ${ratio >= 0.5 ? "met" : "missed"}`}`,
  );
  console.log(
    `  p99 < 50 ms at 2,000 msg/s: ${two ? `${ms(two.p99)} ms — ${two.p99 < 50 && two.ok ? "met" : "missed"}` : "not measured"}`,
  );
}

export function printIdle(rows: IdleRow[], idle: number): void {
  if (rows.length === 0) return;
  console.log(
    `\n### Idle connections — ${int(idle)} held by the generator process; RSS after a full GC\n`,
  );
  table(
    [
      "process",
      "open",
      "RSS before",
      "RSS with idle connections",
      "KB per connection",
      "V8 heap used before → after",
      "peak RSS",
      "connect time",
    ],
    rows.map((r) => [
      r.name,
      `${int(r.open)}${r.failed ? ` (${r.failed} failed)` : ""}`,
      mib(r.beforeKiB),
      mib(r.afterKiB),
      r.open > 0 ? (((r.afterKiB - r.beforeKiB) * 1.024) / r.open).toFixed(1) : "–",
      `${mib(r.heapBeforeKiB)} → ${mib(r.heapAfterKiB)}`,
      mib(r.peakKiB),
      `${r.connectSeconds.toFixed(1)} s`,
    ]),
  );
  const gamedock = rows.find((r) => r.key === "redis");
  if (gamedock && gamedock.open > 0) {
    const kb = ((gamedock.afterKiB - gamedock.beforeKiB) * 1.024) / gamedock.open;
    console.log(
      `\nTarget: ≤ 20 KB of RSS per idle connection (gamedock gateway): ${kb.toFixed(1)} KB — ${kb <= 20 ? "met" : "missed"}`,
    );
  }
}
