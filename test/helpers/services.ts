/**
 * Loopback services for integration tests: Redis 6379, RabbitMQ 5672,
 * MariaDB 3306, PostgreSQL 5432. A service that does not answer skips its suite
 * with a loud message, unless GAMEDOCK_REQUIRE_SERVICES=1 (CI), where the suite
 * fails instead: a skipped integration test must never pass silently there.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";

export type ServiceName = "redis" | "rabbitmq" | "mariadb" | "postgres" | "radosgw";

export const SERVICES: Record<ServiceName, { port: number; url: string; start: string }> = {
  redis: {
    port: 6379,
    url: "redis://127.0.0.1:6379/0",
    start:
      'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
  },
  rabbitmq: {
    port: 5672,
    url: "amqp://guest:guest@127.0.0.1:5672",
    start: "rabbitmq-server -detached",
  },
  mariadb: {
    port: 3306,
    url: "mysql://root@127.0.0.1:3306/test",
    start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
  },
  postgres: {
    port: 5432,
    url: "postgres://postgres@127.0.0.1:5432/test",
    start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  },
  // Ceph's S3 gateway on a throwaway in-memory cluster (test/helpers/radosgw.ts).
  radosgw: {
    port: 7480,
    url: "http://127.0.0.1:7480",
    start: "scripts/radosgw.sh start (Debian: ceph-mon ceph-osd radosgw ceph-common)",
  },
};

/**
 * Whether something accepts connections on the loopback port. Asked up to
 * three times: a test process whose event loop was blocked (loading modules
 * on a loaded machine) can see its timeout fire before the connect that
 * already succeeded — timers run before I/O callbacks.
 */
async function portAnswers(port: number): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await connects(port)) return true;
  }
  return false;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => {
      done(false);
    });
    socket.once("connect", () => {
      done(true);
    });
    socket.once("error", () => {
      done(false);
    });
  });
}

/**
 * For node:test's `{ skip }`: `false` when every service answers, else the skip
 * reason (printed to stderr). Throws when GAMEDOCK_REQUIRE_SERVICES=1.
 * Use at top level: `const skip = await skipUnlessService("redis");`
 */
export async function skipUnlessService(
  ...names: [ServiceName, ...ServiceName[]]
): Promise<string | false> {
  const missing: ServiceName[] = [];
  for (const name of names) if (!(await portAnswers(SERVICES[name].port))) missing.push(name);
  if (missing.length === 0) return false;
  const how = missing.map((name) => `${name}: ${SERVICES[name].start}`).join("; ");
  const reason = `service(s) not answering on loopback: ${missing.join(", ")} (start with ${how})`;
  if (process.env.GAMEDOCK_REQUIRE_SERVICES === "1") {
    throw new Error(`GAMEDOCK_REQUIRE_SERVICES=1 but ${reason}`);
  }
  process.stderr.write(`\n!!! SKIPPING: ${reason}\n\n`);
  return reason;
}

/** A prefix unique to this test run, for Redis keys, queue names and databases. */
export function uniquePrefix(label: string): string {
  return `gdtest_${label}_${process.pid}_${randomBytes(3).toString("hex")}`;
}

/** Removes every Redis key under `<prefix>:` (what a test run left). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  // Loaded here, not at the top: most suites that import this file never touch Redis.
  const { Redis } = await import("ioredis");
  const redis = new Redis(SERVICES.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
