/**
 * `gamedock doctor` through the real CLI against the real loopback services:
 * a config where everything works passes every check (on each SQL dialect);
 * a wrong Redis port, a wrong MariaDB or PostgreSQL URL, an unwritable fs
 * target and a host that never answers each fail their own check with a
 * fix, and doctor exits 1.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openDatabase } from "../../src/db/index.js";
import { DATABASE_TARGETS, createTestDatabase } from "../helpers/databases.js";
import { openRadosgwBucket } from "../helpers/radosgw.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { s3TargetOf, startS3rver } from "../helpers/s3rver.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { runCli, useTempDir, type CliResult } from "../helpers/cli.js";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  optional?: boolean;
}

const skip = await skipUnlessService("redis", "rabbitmq");
const skipMariadb = await skipUnlessService("mariadb");
const skipPostgres = await skipUnlessService("postgres");
const skipRadosgw = await skipUnlessService("radosgw");

async function doctor(
  dir: string,
  config: Record<string, unknown>,
  options: { args?: string[]; unprivileged?: boolean } = {},
): Promise<{ result: CliResult; checks: Map<string, Check> }> {
  const file = join(dir, `config-${uniquePrefix("doctor")}.json`);
  await writeFile(file, JSON.stringify({ data: join(dir, "data"), ...config }));
  const result = await runCli(["doctor", "--config", file, "--json", ...(options.args ?? [])], {
    unprivileged: options.unprivileged,
  });
  const parsed = JSON.parse(result.stdout) as { checks: Check[] };
  return { result, checks: new Map(parsed.checks.map((c) => [c.name, c])) };
}

function failed(checks: Map<string, Check>, name: string): Check {
  const check = checks.get(name);
  assert.ok(check, `a ${name} check`);
  assert.equal(check.ok, false, `${name}: ${check.detail}`);
  assert.ok(check.fix, `${name} says what to fix`);
  return check;
}

function requiredFailures(checks: Map<string, Check>): string[] {
  return [...checks.values()].filter((c) => !c.ok && !c.optional).map((c) => c.name);
}

describe("gamedock doctor", { skip }, () => {
  let dir = "";
  useTempDir((d) => (dir = d));
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  /** Every engine at once, all of them working. */
  const everything = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    queues: {
      default: { driver: "sqlite", path: "" },
      jobs: { driver: "redis", url: SERVICES.redis.url, prefix: uniquePrefix("doctor") },
      rabbit: { driver: "amqp", url: SERVICES.rabbitmq.url, prefix: `${uniquePrefix("doctor")}.` },
    },
    targets: { fs: { driver: "fs", root: join(dir, "blobs") } },
    files: { lockRedisUrl: SERVICES.redis.url },
    notifiers: {
      hook: { type: "webhook", url: `${receiver.url}/hook` },
      events: { type: "redis", url: SERVICES.redis.url },
    },
    ...extra,
  });

  for (const target of DATABASE_TARGETS) {
    it(
      `passes every check on a working config (${target.dialect})`,
      { skip: target.skip },
      async () => {
        const database = await createTestDatabase(target.dialect, "doctor");
        try {
          const config = everything({ database: database.config });
          const fresh = await doctor(dir, config);
          assert.deepEqual(requiredFailures(fresh.checks), [], fresh.result.stdout);
          assert.equal(fresh.result.code, 0, fresh.result.stderr);
          const names = [...fresh.checks.keys()];
          for (const name of ["config", "data", "database", "queues.default", "queues.jobs"])
            assert.ok(names.includes(name), name);
          for (const name of ["queues.rabbit", "targets.fs", "files.lockRedisUrl"])
            assert.ok(names.includes(name), name);
          for (const name of ["notifiers.hook", "notifiers.events", "tool apksigner"])
            assert.ok(names.includes(name), name);
          const before = fresh.checks.get("database")!.detail;
          if (target.dialect === "sqlite") assert.match(before, /created at the first start/);
          else assert.match(before, /migrations pending .* the next start applies them/);
          assert.match(fresh.checks.get("notifiers.hook")!.detail, /no event sent/);
          assert.deepEqual(receiver.received, [], "the webhook got no event");
          // The probe object is gone again.
          assert.deepEqual(await readdir(join(dir, "blobs", "gamedock", "doctor")), []);

          await (await openDatabase(database.config)).close(); // applies the migrations
          const migrated = await doctor(dir, config);
          assert.equal(migrated.result.code, 0, migrated.result.stdout);
          assert.match(migrated.checks.get("database")!.detail, /all \d+ migrations applied/);
        } finally {
          await database.drop();
        }
      },
    );
  }

  it("prints one line per check with ✓ and the fix under each ✗", async () => {
    const file = join(dir, "text.json");
    await writeFile(
      file,
      JSON.stringify({
        data: join(dir, "data"),
        queues: {
          default: { driver: "sqlite", path: "" },
          jobs: { driver: "redis", url: "redis://127.0.0.1:1/0" },
        },
      }),
    );
    const result = await runCli(["doctor", "--config", file]);
    assert.equal(result.code, 1);
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^✓ config: loaded from .*text\.json/);
    const bad = lines.findIndex((line) => line.startsWith("✗ queues.jobs: "));
    assert.ok(bad > 0, result.stdout);
    assert.match(
      lines[bad + 1]!,
      /^ {4}fix: start Redis at 127\.0\.0\.1:1, or correct .*queues\.jobs\.url/,
    );
    assert.match(lines.at(-1)!, /^1 check failed/);
  });

  it("a wrong Redis port fails the queue, the lock Redis and the notifier", async () => {
    const wrong = "redis://127.0.0.1:1/0";
    const { result, checks } = await doctor(
      dir,
      everything({
        queues: { default: { driver: "sqlite", path: "" }, jobs: { driver: "redis", url: wrong } },
        files: { lockRedisUrl: wrong },
        notifiers: { events: { type: "redis", url: wrong } },
      }),
    );
    assert.equal(result.code, 1);
    for (const name of ["queues.jobs", "files.lockRedisUrl", "notifiers.events"]) {
      const check = failed(checks, name);
      assert.match(check.detail, /127\.0\.0\.1:1.*connection refused/);
      assert.match(
        check.fix!,
        new RegExp(`start Redis at 127\\.0\\.0\\.1:1, or correct .*${name.replace(".", "\\.")}`),
      );
    }
    assert.deepEqual(requiredFailures(checks).sort(), [
      "files.lockRedisUrl",
      "notifiers.events",
      "queues.jobs",
    ]);
  });

  it("a wrong MariaDB URL: unknown database, wrong port", { skip: skipMariadb }, async () => {
    const missing = await doctor(dir, {
      database: { driver: "mysql", url: "mysql://root@127.0.0.1:3306/gamedock_doctor_missing" },
    });
    assert.equal(missing.result.code, 1);
    const check = failed(missing.checks, "database");
    assert.match(check.detail, /gamedock_doctor_missing/);
    assert.match(check.fix!, /create the database/);
    const port = await doctor(dir, {
      database: { driver: "mysql", url: "mysql://root@127.0.0.1:1/test" },
    });
    assert.match(
      failed(port.checks, "database").fix!,
      /start MySQL\/MariaDB there, or correct the host and port in database\.url/,
    );
  });

  it("a wrong PostgreSQL URL: unknown database, unknown user", { skip: skipPostgres }, async () => {
    const missing = await doctor(dir, {
      database: {
        driver: "postgres",
        url: "postgres://postgres@127.0.0.1:5432/gamedock_doctor_missing",
      },
    });
    assert.equal(missing.result.code, 1);
    assert.match(failed(missing.checks, "database").fix!, /create the database/);
    const user = await doctor(dir, {
      database: { driver: "postgres", url: "postgres://nobody:secret@127.0.0.1:5432/test" },
    });
    const check = failed(user.checks, "database");
    assert.doesNotMatch(check.detail, /secret/, "no password in the report");
    assert.match(check.fix!, /user and password/);
  });

  it("an fs target that cannot be written, or created, fails with the fix", async () => {
    const locked = join(dir, "locked");
    await mkdir(locked);
    await chmod(locked, 0o555);
    const { result, checks } = await doctor(
      dir,
      {
        targets: {
          fs: { driver: "fs", root: join(dir, "blobs") },
          locked: { driver: "fs", root: locked },
          proc: { driver: "fs", root: "/proc/gamedock-doctor" },
        },
      },
      { unprivileged: true },
    );
    assert.equal(result.code, 1);
    assert.match(failed(checks, "targets.locked").detail, /locked is not writable \(EACCES\)/);
    assert.match(failed(checks, "targets.locked").fix!, /targets\.locked\.root/);
    assert.match(
      failed(checks, "targets.proc").detail,
      /\/proc\/gamedock-doctor cannot be created/,
    );
    assert.equal(checks.get("targets.fs")!.ok, true);
  });

  it(
    "says whether each target copies server-side (compose): radosgw and fs do, s3rver does not",
    { skip: skipRadosgw },
    async () => {
      const rgw = await openRadosgwBucket("doctor");
      const s3rver = await startS3rver();
      try {
        const { result, checks } = await doctor(dir, {
          targets: {
            fs: { driver: "fs", root: join(dir, "blobs") },
            rgw: rgw.target,
            fake: s3TargetOf(s3rver),
          },
        });
        assert.equal(result.code, 0, result.stdout);
        assert.match(checks.get("targets.rgw")!.detail, /; server-side copy \(compose\) works$/);
        assert.match(checks.get("targets.fs")!.detail, /; server-side copy \(compose\) works$/);
        assert.match(
          checks.get("targets.fake")!.detail,
          /no server-side copy \(compose\): the store does not implement UploadPartCopy \(NotImplemented/,
        );
      } finally {
        await s3rver.close();
        await rgw.drop();
      }
    },
  );

  it("a host that accepts connections but never answers fails within --timeout", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const { result, checks } = await doctor(
        dir,
        { files: { lockRedisUrl: `redis://127.0.0.1:${port}/0` } },
        { args: ["--timeout", "1"] },
      );
      assert.equal(result.code, 1);
      assert.match(
        failed(checks, "files.lockRedisUrl").detail,
        new RegExp(`127\\.0\\.0\\.1:${port}.* did not answer within 1 s`),
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("a config that does not load is a failed config check, exit 1", async () => {
    const { result, checks } = await doctor(dir, { server: { port: 99999 } });
    assert.equal(result.code, 1);
    assert.match(failed(checks, "config").fix!, /server\.port/);
    assert.equal(checks.size, 1);
  });

  it("references between sections: packer.queue must name a queue", async () => {
    const { result, checks } = await doctor(dir, { packer: { queue: "nope" } });
    assert.equal(result.code, 1);
    assert.match(failed(checks, "config").detail, /packer\.queue "nope" is not one of queues/);
  });

  it("checks the cluster's tools and says whether executors elsewhere can join", async () => {
    const { result, checks } = await doctor(dir, {
      cluster: { tools: { sh: "/bin/sh", etc1: "/nonexistent/etc1tool" } },
    });
    assert.equal(result.code, 1);
    assert.match(failed(checks, "cluster.tools.etc1").fix!, /install the tool, or fix the path/);
    assert.equal(checks.get("cluster.tools.sh")?.ok, true);
    assert.match(checks.get("cluster.queue")?.detail ?? "", /only this server's own executor/);
  });
});
