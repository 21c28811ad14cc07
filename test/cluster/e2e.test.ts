/**
 * The cluster on one machine, as `gamedock serve` runs it: tools in the
 * config start an in-process executor over the embedded queue, which stages
 * inputs from /files, runs the tool in a sandbox and stores its outputs back.
 * Driven through HTTP and through the real `gamedock task` CLI.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { ROOT, removeDir, runCli, tempDir } from "../helpers/cli.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";

interface TaskJson {
  id: string;
  status: string;
  executor: string | null;
  error: { code: string; message: string } | null;
  result: {
    exitCode: number | null;
    stdout: string;
    stderr: string;
    outputs: { path: string; sha256: string; size: number; url: string }[];
  } | null;
}

const TOOL = join(ROOT, "test/cluster/fixtures/tool.sh");

describe("the cluster in one process (serve with tools)", () => {
  let server: TestServer;
  let dir = "";
  const stored = new Map<string, { sha256: string; size: number }>();

  async function store(name: string, bytes: Buffer): Promise<{ sha256: string; size: number }> {
    const put = await fetch(`${server.url}/files/${name}`, { method: "PUT", body: bytes });
    assert.equal(put.status, 201);
    const ref = { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
    stored.set(name, ref);
    return ref;
  }

  before(async () => {
    dir = await tempDir("gamedock-cluster-e2e-");
    server = await startTestServer(
      {
        cluster: {
          tools: { sh: "/bin/sh" },
          sweepIntervalMs: 200,
          heartbeatMs: 300,
          envAllow: ["LANG", "GREETING"],
        },
      },
      { stages: [] },
    );
    await store("tool.sh", await readFile(TOOL));
    await store("in.txt", Buffer.from("hello\nworld\n"));
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  const submit = async (body: Record<string, unknown>): Promise<TaskJson> => {
    const answer = await server.api("POST", "/api/v1/tasks", { tool: "sh", ...body });
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
    return answer.json as TaskJson;
  };
  const inputs = (...names: string[]) =>
    names.map((name) => ({ path: name, ...stored.get(name)! }));
  async function until(id: string, done: (t: TaskJson) => boolean): Promise<TaskJson> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const task = (await server.api("GET", `/api/v1/tasks/${id}`)).json as TaskJson;
      if (done(task)) return task;
      if (Date.now() > deadline) throw new Error(`task ${id} stuck: ${JSON.stringify(task)}`);
      await delay(50);
    }
  }
  const finished = (id: string) =>
    until(id, (t) => ["done", "failed", "timed_out", "cancelled"].includes(t.status));

  it("runs a tool on staged inputs and returns its outputs through /files", async () => {
    const created = await submit({
      args: ["tool.sh", "transform", "in.txt"],
      inputs: inputs("tool.sh", "in.txt"),
      outputs: ["out/*.txt"],
    });
    const task = await finished(created.id);
    assert.equal(task.status, "done", JSON.stringify(task));
    assert.match(task.result?.stdout ?? "", /transformed in\.txt/);
    const outputs = Object.fromEntries(task.result!.outputs.map((o) => [o.path, o]));
    assert.deepEqual(Object.keys(outputs).sort(), ["out/lines.txt", "out/upper.txt"]);
    const upper = await fetch(`${server.url}${outputs["out/upper.txt"]!.url}`);
    assert.equal(await upper.text(), "HELLO\nWORLD\n");
    assert.equal(
      outputs["out/upper.txt"]!.sha256,
      createHash("sha256").update("HELLO\nWORLD\n").digest("hex"),
    );
  });

  it("fails a non-zero exit with E_EXIT_NONZERO and the tails of its output", async () => {
    const task = await finished(
      (await submit({ args: ["tool.sh", "fail"], inputs: inputs("tool.sh") })).id,
    );
    assert.equal(task.status, "failed");
    assert.equal(task.error?.code, "E_EXIT_NONZERO");
    assert.equal(task.result?.exitCode, 3);
    assert.match(task.result?.stderr ?? "", /cannot open the level file/);
  });

  it("kills a tool past runMs: E_TASK_TIMEOUT, status timed_out", async () => {
    const task = await finished(
      (
        await submit({
          args: ["tool.sh", "group"],
          inputs: inputs("tool.sh"),
          timeouts: { runMs: 800 },
        })
      ).id,
    );
    assert.equal(task.status, "timed_out");
    assert.equal(task.error?.code, "E_TASK_TIMEOUT");
  });

  it("cancels a running task: its executor stops it", async () => {
    const created = await submit({ args: ["tool.sh", "group"], inputs: inputs("tool.sh") });
    await until(created.id, (t) => t.status === "running");
    const answer = await server.api("POST", `/api/v1/tasks/${created.id}/cancel`);
    assert.equal(answer.status, 200);
    const task = await finished(created.id);
    assert.equal(task.status, "cancelled");
  });

  it("passes only allowed env keys, exactly", async () => {
    const created = await submit({
      args: ["-c", 'printf "%s|%s" "$GREETING" "${SECRET:-unset}" > env.txt'],
      env: { GREETING: "你好 world" },
      outputs: ["env.txt"],
    });
    const task = await finished(created.id);
    assert.equal(task.status, "done", JSON.stringify(task));
    const env = await fetch(`${server.url}${task.result!.outputs[0]!.url}`);
    assert.equal(await env.text(), "你好 world|unset");
  });

  it("refuses an output that is a symlink out of the sandbox: E_OUTPUT_INVALID", async () => {
    const created = await submit({
      args: ["-c", "ln -s /etc/passwd leak.txt"],
      outputs: ["leak.txt"],
    });
    const task = await finished(created.id);
    assert.equal(task.status, "failed");
    assert.equal(task.error?.code, "E_OUTPUT_INVALID", task.error?.message);
    assert.deepEqual(task.result?.outputs ?? [], []);
  });

  it("fails E_INPUT_DIGEST_MISMATCH when an input's stored bytes were corrupted", async () => {
    const bytes = Buffer.from("intact bytes\n");
    const put = await fetch(`${server.url}/files/fragile.txt`, { method: "PUT", body: bytes });
    const { id } = (await put.json()) as { id: string };
    // The fs target keeps PUT bytes at <data>/blobs/put/<id>: flip one byte behind the service's back.
    const path = join(server.data, "blobs", "put", id);
    const stored = await readFile(path);
    stored[0] = stored[0]! ^ 0xff;
    await writeFile(path, stored);
    const ref = { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
    const task = await finished(
      (await submit({ args: ["-c", "cat fragile.txt"], inputs: [{ path: "fragile.txt", ...ref }] }))
        .id,
    );
    assert.equal(task.status, "failed");
    assert.equal(task.error?.code, "E_INPUT_DIGEST_MISMATCH", task.error?.message);
  });

  it("answers malformed JSON with 400", async () => {
    const answer = await server.api("POST", "/api/v1/tasks", '{"tool": "sh",');
    assert.equal(answer.status, 400);
    assert.equal((answer.json as { error: { code: string } }).error.code, "E_INVALID_REQUEST");
  });

  it("works from the CLI: uploads what the server lacks, waits, downloads the outputs", async () => {
    const local = join(dir, "local.txt");
    await writeFile(local, "from the cli\n");
    const out = join(dir, "out");
    const submitted = await runCli([
      "task",
      "submit",
      "sh",
      "--server",
      server.url,
      "--input",
      `tool.sh=@${TOOL}`,
      "--input",
      `in.txt=@${local}`,
      "--output",
      "out/upper.txt",
      "--wait",
      "-o",
      out,
      "--json",
      "--",
      "tool.sh",
      "transform",
      "in.txt",
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const task = JSON.parse(submitted.stdout) as TaskJson & { downloaded: string[] };
    assert.equal(task.status, "done");
    assert.equal(await readFile(join(out, "out/upper.txt"), "utf8"), "FROM THE CLI\n");
    const got = await runCli(["task", "get", task.id, "--server", server.url, "--json"]);
    assert.equal((JSON.parse(got.stdout) as TaskJson).status, "done");
    const executors = await runCli(["executors", "--server", server.url, "--json"]);
    const list = (
      JSON.parse(executors.stdout) as {
        executors: { state: string; tools: Record<string, string> }[];
      }
    ).executors;
    assert.ok(list.some((e) => e.state === "alive" && "sh" in e.tools));
    const failing = await runCli([
      "task",
      "submit",
      "sh",
      "--server",
      server.url,
      "--input",
      `tool.sh=@${TOOL}`,
      "--wait",
      "--",
      "tool.sh",
      "fail",
    ]);
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /E_EXIT_NONZERO/);
  });
});

describe("task events through the notify sinks", () => {
  let server: TestServer;
  let receiver: Receiver;
  let tool: { sha256: string; size: number };

  before(async () => {
    receiver = await startReceiver("s3cret");
    server = await startTestServer(
      {
        cluster: { tools: { sh: "/bin/sh" }, sweepIntervalMs: 200, heartbeatMs: 300 },
        notifiers: { hook: { type: "webhook", url: receiver.url, secret: "s3cret" } },
      },
      { stages: ["notify"] },
    );
    const bytes = await readFile(TOOL);
    const put = await fetch(`${server.url}/files/tool.sh`, { method: "PUT", body: bytes });
    assert.equal(put.status, 201);
    tool = { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  const eventsOf = (taskId: string) =>
    receiver.received
      .map(
        (r) =>
          r.json as { type: string; taskId?: string; status?: string; outputs?: { url: string }[] },
      )
      .filter((e) => e.taskId === taskId);

  it("sends task.finished at level each, signed, with absolute output URLs; failure level only on failure", async () => {
    const submit = async (body: Record<string, unknown>) =>
      (
        await server.api("POST", "/api/v1/tasks", {
          tool: "sh",
          inputs: [{ path: "tool.sh", ...tool }],
          ...body,
        })
      ).json as { id: string };
    // A task that succeeds at level failure: no event. It finishes before the others are submitted,
    // so its event, had there been one, would have been queued ahead of theirs.
    const quiet = await submit({ args: ["-c", "true"], notify: { level: "failure" } });
    const quietDeadline = Date.now() + 60_000;
    while (
      ((await server.api("GET", `/api/v1/tasks/${quiet.id}`)).json as { status: string }).status !==
      "done"
    ) {
      if (Date.now() > quietDeadline) throw new Error("the quiet task did not finish");
      await delay(50);
    }
    const ok = await submit({
      args: ["-c", "echo hi > out.txt"],
      outputs: ["out.txt"],
      notify: { level: "each" },
    });
    const bad = await submit({
      args: ["tool.sh", "fail"],
      notify: { level: "failure", targets: ["hook"] },
    });
    const deadline = Date.now() + 60_000;
    while (eventsOf(ok.id).length === 0 || eventsOf(bad.id).length === 0) {
      if (Date.now() > deadline)
        throw new Error(`events missing: ${JSON.stringify(receiver.received.map((r) => r.json))}`);
      await delay(50);
    }
    const [done] = eventsOf(ok.id);
    assert.equal(done?.type, "task.finished");
    assert.equal(done.status, "done");
    assert.match(done.outputs?.[0]?.url ?? "", /^http:\/\/127\.0\.0\.1:\d+\/files\//);
    assert.ok(receiver.received.every((r) => r.signatureValid === true));
    assert.equal(eventsOf(bad.id)[0]?.status, "failed");
    assert.deepEqual(eventsOf(quiet.id), []);
    const refused = await server.api("POST", "/api/v1/tasks", {
      tool: "sh",
      notify: { level: "each", targets: ["nope"] },
    });
    assert.equal(refused.status, 400);
  });
});
