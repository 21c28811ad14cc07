/**
 * Where a process's CPU went, from a `node --cpu-prof` profile: the top
 * functions by self time and by total time (the function and what it
 * called), and self time by package or source folder. bench:realtime writes
 * such profiles with BENCH_PROFILE=1.
 *
 *   node --import tsx bench/cpuprofile-top.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error("usage: cpuprofile-top.ts <file.cpuprofile> [top]");
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);

function where(url: string): string {
  if (!url) return "";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const source = /\/(src|dist|bench|samples)\/(.+)$/.exec(url);
  if (source) return `${source[1]!}/${source[2]!}`;
  return url.replace(/^file:\/\//, "");
}

const label = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const at = where(url);
  return `${functionName || "(anonymous)"}${at ? ` ${at}:${lineNumber + 1}` : ""}`;
};

/** A package, a source folder, or V8/Node's own: what a self-time sample is charged to. */
const group = (n: ProfileNode): string => {
  const at = where(n.callFrame.url);
  if (!at) return n.callFrame.functionName || "(native)";
  if (at.startsWith("node:")) return "node: internals";
  return /^(src|dist|bench|samples)\//.test(at) ? at.split("/").slice(0, 2).join("/") : at;
};

const self = new Map<string, number>();
const total = new Map<string, number>();
const groups = new Map<string, number>();
let all = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  const node = byId.get(id);
  if (!node) return;
  all += dt;
  self.set(label(node), (self.get(label(node)) ?? 0) + dt);
  groups.set(group(node), (groups.get(group(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = label(byId.get(at)!);
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + dt);
  }
});
const idle = self.get("(idle)") ?? 0;
const busy = all - idle;

function print(title: string, map: Map<string, number>, n: number): void {
  console.log(`\n${title}`);
  const rows = [...map.entries()].filter(([k]) => k !== "(idle)" && k !== "(root)");
  for (const [name, us] of rows.sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(
      `${((100 * us) / busy).toFixed(1).padStart(6)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`,
    );
  }
}

console.log(
  `${file}: ${(all / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / all).toFixed(0)} %); percentages are of the busy time`,
);
print("self time by package / source folder", groups, top);
print("self time by function", self, top);
print("total time by function (itself and what it called)", total, top);
