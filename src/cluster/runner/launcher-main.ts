/**
 * The launcher: a small process the runner starts once and asks to start
 * every tool. Forking copies the parent's page tables, so its cost grows with
 * the parent's memory: from an executor of 100+ MiB a spawn costs ~3 ms of
 * CPU and blocks its event loop that long; from this process of ~40 MiB it
 * costs ~1 ms and blocks nothing of the executor's (docs/benchmarks.md,
 * bench:cluster).
 *
 * It owns each tool's process group (process-group.ts) and captures its
 * output (log-capture.ts), and answers on the IPC channel
 * (launcher-protocol.ts). When the runner's process goes away — even by
 * `kill -9` — the channel closes and the launcher kills every group it still
 * holds before it exits: a dead executor leaves no tool running.
 *
 * Only node: imports, so it stays small.
 */
import type { CapturedLog, FromLauncher, ToLauncher } from "./launcher-protocol.js";
import { LogCapture } from "./log-capture.js";
import { KILL_GRACE_MS, StartRefused, startGroup, type ToolGroup } from "./process-group.js";
import { writeRunRecord } from "./run-record.js";

const groups = new Map<number, ToolGroup>();

function send(message: FromLauncher): void {
  // A closed channel means the runner is gone: the 'disconnect' handler cleans up.
  if (process.connected) process.send?.(message);
}

async function run(request: Extract<ToLauncher, { op: "start" }>): Promise<void> {
  let group: ToolGroup;
  try {
    group = await startGroup(request.tool, request.args, { cwd: request.cwd, env: request.env });
  } catch (err) {
    const refused = err instanceof StartRefused ? err : new StartRefused("unknown", String(err));
    send({ op: "refused", id: request.id, reason: refused.reason, message: refused.message });
    return;
  }
  groups.set(request.id, group);
  try {
    // So an executor started after a kill -9 of this one and its launcher can stop the group.
    writeRunRecord(request.record.dir, group.pid, request.record.owner);
  } catch {
    // Without a record only that clean-up is lost; the run itself goes on.
  }
  send({ op: "started", id: request.id, pid: group.pid });
  const stdout = new LogCapture(
    request.stdout.path,
    request.stdout.maxBytes,
    request.stdout.tailBytes,
  );
  const stderr = new LogCapture(
    request.stderr.path,
    request.stderr.maxBytes,
    request.stderr.tailBytes,
  );
  const captured = Promise.all([
    stdout.capture(group.child.stdout!),
    stderr.capture(group.child.stderr!),
  ]);
  const exit = await group.exited;
  groups.delete(request.id);
  send({ op: "exited", id: request.id, ...exit });
  await settle(captured, group);
  send({ op: "logs", id: request.id, stdout: outcome(stdout), stderr: outcome(stderr) });
}

/**
 * Waits for both streams to end. Once the group is dead the pipes close; only
 * a grandchild that left the group (setsid) can hold one open, so after
 * KILL_GRACE_MS the launcher stops reading rather than wait for it.
 */
async function settle(captured: Promise<unknown>, group: ToolGroup): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => {
      resolve("late");
    }, KILL_GRACE_MS);
  });
  const ended = await Promise.race([captured.then(() => "ended" as const), late]);
  clearTimeout(timer);
  if (ended === "late") {
    group.child.stdout!.destroy();
    group.child.stderr!.destroy();
    await captured;
  }
}

function outcome(log: LogCapture): CapturedLog {
  const failure = log.failure;
  return {
    tail: log.tail(),
    written: log.written,
    truncated: log.truncated,
    failure:
      failure === undefined
        ? null
        : {
            code: (failure as NodeJS.ErrnoException).code,
            message:
              failure instanceof Error ? failure.message : "the log file could not be written",
          },
  };
}

process.on("message", (message: ToLauncher) => {
  switch (message.op) {
    case "start":
      void run(message);
      break;
    case "stop":
      groups.get(message.id)?.stop();
      break;
    case "kill":
      groups.get(message.id)?.kill();
      break;
  }
});

process.on("disconnect", () => {
  for (const group of groups.values()) group.kill();
  process.exit(0);
});

// The runner may be gone already (killed while this started).
if (!process.connected) process.exit(0);
send({ op: "ready" });
