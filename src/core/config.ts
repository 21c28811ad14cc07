/**
 * Configuration: defaults live in one object (DEFAULTS); a JSON config file
 * overrides them; GAMEDOCK_* environment variables override the file
 * (GAMEDOCK_PACK_CONCURRENCY=4 sets pack.concurrency). One zod schema
 * (config-schema.ts) validates whatever is not a default.
 */
import { readFileSync } from "node:fs";
import type {
  Config,
  NotifierConfigEntry,
  QueueConfigEntry,
  TargetConfigEntry,
} from "./config-schema.js";
import { GamedockError, fsError } from "./errors.js";

export const DEFAULTS = {
  /** Directory for embedded state (SQLite, blobs, packages). */
  data: "./gamedock-data",
  server: {
    host: "127.0.0.1",
    port: 8080, // TCP port
    /** API tokens (Authorization: Bearer …). Required when host is not a loopback address. */
    tokens: [] as string[],
    /** Base of absolute URLs in notifications ("" = http://host:port). */
    publicUrl: "",
    /** Largest JSON request body, bytes (413 E_REQUEST_TOO_LARGE above). File uploads have files.maxUploadBytes. */
    maxBodyBytes: 4 * 1024 * 1024,
  },
  /** Where jobs and their state live. sqlite path "" means <data>/gamedock.db. */
  database: {
    driver: "sqlite" as "sqlite" | "mysql" | "postgres",
    path: "",
    url: "", // mysql://user:pass@host:3306/db or postgres://user@host:5432/db
  },
  /**
   * Queue backends by name; a job picks one with `queue` (default packer.queue).
   * driver sqlite: { path } ("" = <data>/queue.db); redis: { url, prefix, lockMs };
   * amqp: { url, prefix }. See docs/queues.md.
   */
  queues: {
    default: { driver: "sqlite", path: "" },
  } as Record<string, QueueConfigEntry>,
  /**
   * Upload targets by name; a job picks one with `upload.target` (default packer.target).
   * driver fs: { root } ("" = <data>/blobs); s3: see docs/storage.md. Either
   * takes serverSideCopy: "auto" | true | false (compose channel children in
   * the target; "auto" asks the target once).
   */
  targets: {
    fs: { driver: "fs", root: "", serverSideCopy: "auto" },
  } as Record<string, TargetConfigEntry>,
  /** Notification sinks by name (webhook, redis, robot); see docs/notifications.md. */
  notifiers: {} as Record<string, NotifierConfigEntry>,
  /** The file service (/files, `gamedock files`); see docs/files.md. */
  files: {
    target: "fs", // upload target (from `targets`) that holds the files' bytes
    maxUploadBytes: 10 * 1024 ** 3, // largest single upload, bytes (413 above)
    quotaBytes: 0, // bytes per API token (0 = unlimited)
    uploadTtlSeconds: 86_400, // an unfinished tus upload expires after this, s
    fileTtlSeconds: 0, // default lifetime of a file (0 = kept until deleted), s
    /** HMAC key for signed download URLs; "" = generated once into <data>/signing.key. */
    signingSecret: "",
    signedUrlTtlSeconds: 3600, // default lifetime of a signed URL, s
    /** Redis for tus upload locks across instances; "" = in-process locks (one instance). */
    lockRedisUrl: "",
    /** Key prefix of those locks: deployments sharing one Redis use different prefixes. */
    lockPrefix: "gamedock:tus",
    sweepIntervalMs: 60_000, // how often expired uploads and files are removed, ms
  },
  packer: {
    /** Mother APKs must resolve inside this directory ("" = <data>/packages). */
    packagesRoot: "",
    /** Children are written here before upload ("" = <data>/work). */
    workDir: "",
    queue: "default", // queue backend for jobs that name none
    target: "fs", // upload target for jobs that name none
    concurrency: {
      pack: 2, // children packed at once (the design note's packet_count)
      retryPack: 1, // failed packs retried at once (retry_packet_count)
      upload: 2, // uploads at once (upload_count)
      notify: 4, // notifications sent at once (message_count)
    },
    retry: {
      maxAttempts: 5, // attempts per stage before a channel fails
      initialMs: 1000, // first backoff delay, ms
      factor: 2, // backoff multiplier per attempt
      maxMs: 60_000, // longest backoff delay, ms
    },
    leaseMs: 30_000, // a task whose worker stops renewing for this long is recovered, ms
    sweepIntervalMs: 10_000, // how often undispatched or orphaned work is re-queued, ms
    /** Mothers uploaded for composing (mothers/<sha256>.apk) stay this long after their last job finished, ms. */
    motherRetentionMs: 86_400_000,
    /** What one POST /api/v1/pack-jobs may ask for (docs/packer-api.md, "Limits"). */
    limits: {
      maxChannels: 10_000, // channels per job (E_CHANNELS_LIMIT above)
      maxExtras: 32, // keys per set of extras: each channel's own, and the job's shared set
      maxExtrasBytes: 4096, // UTF-8 bytes of all keys and values of one set (E_EXTRAS_LIMIT above)
    },
    /** GET /api/v1/pack-jobs/:id/events (server-sent events). */
    events: {
      maxSubscribers: 1000, // open event streams per process (503 E_SUBSCRIBERS_LIMIT above)
      pollMs: 500, // how often a job with subscribers is read back, ms
      summaryMs: 5000, // a summary event at least this often while the job runs, ms
      maxBufferedBytes: 1024 * 1024, // a subscriber this far behind is dropped, bytes
    },
  },
  /** The task cluster (docs/cluster.md). */
  cluster: {
    queue: "default", // queue backend tasks are dispatched on (remote executors need a redis one)
    /** Tool names this process's executor offers → absolute paths of their binaries. */
    tools: {} as Record<string, string>,
    /** Keys a task's `env` may set (anything else: 400). PATH and HOME are the executor's own. */
    envAllow: ["LANG", "LC_ALL", "TZ"] as string[],
    heartbeatMs: 2000, // how often an executor reports, ms
    lostAfterMs: 15_000, // an executor silent for this long is lost; its tasks are re-queued, ms
    sweepIntervalMs: 1000, // how often timeouts and lost executors are checked, ms
    retentionSeconds: 7 * 86_400, // finished tasks (and their outputs and logs) are kept this long, s
    defaults: {
      assignMs: 60_000, // a task no executor took by then fails E_TASK_NOT_ASSIGNED, ms
      stagingMs: 300_000, // inputs must be staged within this, ms
      runMs: 300_000, // the tool must finish within this, ms
      retries: 1, // re-runs after an executor is lost
    },
    limits: {
      maxArgs: 1000, // argv entries
      maxInputs: 1000, // inputs per task
      maxInputBytes: 64 * 1024 ** 3, // all inputs of a task together, bytes
      maxOutputs: 1000, // output files per task
      maxOutputBytes: 16 * 1024 ** 3, // all outputs together, bytes
      maxSandboxBytes: 64 * 1024 ** 3, // disk use of a running task's sandbox, bytes
      maxLogBytes: 16 * 1024 * 1024, // each of stdout and stderr kept as a file, bytes
    },
    /** The executor `serve` runs in-process when `tools` is not empty, and `gamedock executor`'s defaults. */
    executor: {
      pool: "default",
      slots: 2, // tasks run at once
      cacheDir: "", // staging cache ("" = <data>/cluster-cache)
      cacheMaxBytes: 10 * 1024 ** 3, // staging cache bound, bytes
      workDir: "", // task sandboxes ("" = <data>/cluster-work)
    },
  },
  /** The realtime gateway and logic runtime (docs/realtime.md). */
  realtime: {
    /** The message bus: { driver: "memory" } in one process, or { driver: "redis", url, prefix }. */
    bus: { driver: "memory" } as
      { driver: "memory" } | { driver: "redis"; url: string; prefix: string },
    jwtSecret: "", // HS256 secret for connection tokens ("" = <data>/realtime.key, generated once)
    jwksUrl: "", // verify tokens with the keys published here instead of a secret
    defaultGroup: "default", // logic group of a connection whose token has no group
    /** Handler modules serve and `gamedock logic` load ([] = samples/handlers.js). */
    handlers: [] as string[],
    maxFrameBytes: 64 * 1024, // a bigger frame closes the connection with 1009, bytes
    handlerTimeoutMs: 10_000, // a handler running longer is answered E_TIMEOUT, ms
    concurrency: 16, // messages a logic worker handles at once
    claimIdleMs: 15_000, // a message a dead worker held this long is taken over, ms
    presenceTtlMs: 30_000, // a gateway refreshes its uids' presence at a third of this, ms
    drainTimeoutMs: 10_000, // at shutdown, how long a gateway waits for replies in flight, ms
    /** Origins browsers may connect from (e.g. "https://game.example"); [] = any. */
    allowedOrigins: [] as string[],
    limits: {
      maxConnections: 10_000, // open sockets per gateway; more are closed with 1013
      ratePerSecond: 50, // frames per second per connection (then an error frame, then 4429)
      rateBurst: 100, // frames a connection may send at once
      maxBufferedBytes: 1024 * 1024, // unsent bytes for one socket before it is closed with 1013
      pingIntervalMs: 25_000, // a peer that misses one ping is dropped at the next, ms
    },
    /** What a reconnecting client can get back: each user's pushes, and pushes to everyone. */
    history: {
      maxLength: 1000, // pushes kept per history
      maxAgeMs: 24 * 3_600_000, // older pushes are dropped, ms
    },
  },
  /** Match guessing (docs/guess.md). */
  guess: {
    /** A match feed (docs/guess.md, "The feed") fetched and imported every feedPollMs; "" = none. */
    feedUrl: "",
    feedPollMs: 60_000, // how often feedUrl is fetched, ms
    /** Guessing's routes, its realtime handlers (msgIds 2000–2999) and its sweeps; false: none. */
    enabled: true,
    minStake: 100, // smallest stake of one bet, minor units (fen)
    maxStake: 1_000_000, // largest stake of one bet, minor units
    maxStakePerMatch: 5_000_000, // most one uid may stake on one match in all, minor units
    remindBeforeMs: 600_000, // "match starts soon" goes to those who reserved it this long before, ms
    queue: "default", // queue backend settlement runs on
    settleBatch: 2000, // bets per settlement transaction
    statsTimeZone: "Asia/Shanghai", // the days of the statistics (an IANA time zone)
    /** Top-ups: orders and the providers' payment callbacks (docs/payments.md). */
    payments: {
      replayWindowMs: 300_000, // a callback signed further than this from our clock is refused, ms
      minTopUp: 100, // smallest top-up order, minor units (fen)
      maxTopUp: 5_000_000, // largest top-up order, minor units
      orderTtlMs: 1_800_000, // a pending order expires (may be closed) after this, ms; a late payment still credits
      /** WeChat Pay API v3; all empty: WeChat Pay is off. */
      wechat: {
        mchId: "", // our merchant id (mchid): a notification for another is refused
        apiV3Key: "", // the APIv3 key, 32 ASCII characters (a secret: prefer the env variable)
        /** Platform keys by serial (Wechatpay-Serial): PEM text of a public key or certificate. */
        platformKeys: {} as Record<string, string>,
      },
      /** Alipay; all empty: Alipay is off. */
      alipay: {
        appId: "", // our app's id: a notification for another app is refused
        publicKey: "", // Alipay's public key ("支付宝公钥"): PEM, or the bare base64 the console shows
      },
    },
  },
  /** Chat (docs/chat.md). */
  chat: {
    /** Chat's realtime handlers (msgIds 3000–3999); false: none. */
    enabled: true,
    maxTextLength: 5000, // characters of a message's text
    maxMessageBytes: 16_384, // UTF-8 bytes of a message's text and meta together
    maxGroupMembers: 2000, // members of one group, its owner included
    sendsPerSecond: 20, // messages one uid may send per second (then E_RATE_LIMITED)
    recallWindowMs: 120_000, // a sender may recall a message this long after sending it, ms
    fileUrlTtlSeconds: 86_400, // how long a file's download URL in a delivered message works
  },
  log: {
    level: "info" as "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent",
    /** Append JSON log lines to this file; empty means stderr. */
    file: "",
  },
  pack: {
    concurrency: 2, // children written at once
    format: "walle" as "walle" | "vasdolly" | "both",
    v1Style: "comment" as "comment" | "meta-inf",
    nameTemplate: "{package}-{versionName}-{channel}.apk",
  },
};

export type { Config } from "./config-schema.js";

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Maps of named entries: a file's entry replaces a default of the same name whole. */
const NAMED_ENTRIES = new Set(["queues", "targets", "notifiers"]);

/**
 * Deep merge of `override` into `base`. With `replaceEntries`, an entry of a
 * named map (queues.default, targets.fs) replaces the default one instead of
 * merging into it: `{"queues": {"default": {"driver": "redis", …}}}` must not
 * keep the sqlite default's `path`. Environment variables merge into entries.
 */
function merge(base: Plain, override: Plain, replaceEntries = false): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (replaceEntries && NAMED_ENTRIES.has(key) && isPlain(current) && isPlain(value)) {
      out[key] = { ...current, ...value };
    } else {
      out[key] = isPlain(current) && isPlain(value) ? merge(current, value) : value;
    }
  }
  return out;
}

/** GAMEDOCK_SERVER_PORT → server.port, matching the keys that exist in DEFAULTS. */
function fromEnv(env: NodeJS.ProcessEnv, shape: Plain, prefix = "GAMEDOCK"): Plain {
  const out: Plain = {};
  for (const [key, value] of Object.entries(shape)) {
    const name = `${prefix}_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    if (isPlain(value)) {
      const nested = fromEnv(env, value, name);
      if (Object.keys(nested).length > 0) out[key] = nested;
    } else if (env[name] !== undefined) {
      out[key] = env[name];
    }
  }
  return out;
}

export async function loadConfig(
  options: { file?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Config> {
  let fromFile: Plain = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, "utf8");
    } catch (err) {
      throw fsError(err, options.file, "config file");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new GamedockError(
        "E_CONFIG",
        `config file ${options.file} is not valid JSON: ${(err as Error).message}`,
      );
    }
    if (!isPlain(parsed)) {
      throw new GamedockError("E_CONFIG", `config file ${options.file} must hold a JSON object`);
    }
    fromFile = parsed;
  }
  const overrides = fromEnv(options.env ?? process.env, DEFAULTS);
  // DEFAULTS satisfy the schema (a test checks it): nothing to validate without overrides.
  if (Object.keys(fromFile).length === 0 && Object.keys(overrides).length === 0) {
    return structuredClone(DEFAULTS);
  }
  const { configSchema } = await import("./config-schema.js");
  const result = configSchema.safeParse(merge(merge(DEFAULTS, fromFile, true), overrides));
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue ? issue.path.join(".") : "?";
    throw new GamedockError(
      "E_CONFIG",
      `invalid configuration at ${field}: ${issue?.message ?? "invalid"} (from ${options.file ?? "defaults"} and GAMEDOCK_* environment variables)`,
      { field },
    );
  }
  return result.data;
}
