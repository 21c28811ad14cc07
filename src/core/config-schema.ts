/**
 * The zod schema of the configuration. Loaded only when something overrides
 * the defaults (zod costs ~60 ms of start-up; a plain `gamedock pack` needs none).
 */
import { z } from "zod";
import { isTimeZone } from "./time-zone.js";

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
const ms = z.coerce.number().int().min(0).max(86_400_000);
const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "names are 1-64 of A-Z a-z 0-9 _ -");
/** A list from JSON, or a comma-separated string from an environment variable. */
const stringList = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((item) => item.trim())
          .filter(Boolean)
      : value,
  z.array(z.string().min(1)),
);
const bool = z.preprocess(
  (value) => (value === "true" ? true : value === "false" ? false : value),
  z.boolean(),
);

const queueEntry = z.discriminatedUnion("driver", [
  z.object({ driver: z.literal("sqlite"), path: z.string() }).strict(),
  z
    .object({
      driver: z.literal("redis"),
      url: z.string().regex(/^rediss?:\/\//, "a redis:// or rediss:// URL"),
      prefix: z.string().default("gamedock"),
      lockMs: ms.default(30_000),
    })
    .strict(),
  z
    .object({
      driver: z.literal("amqp"),
      url: z.string().regex(/^amqps?:\/\//, "an amqp:// or amqps:// URL"),
      prefix: z.string().default("gamedock."),
    })
    .strict(),
]);

/** Whether the packer composes children in the target (docs/storage.md, "Server-side copy"). */
const serverSideCopy = z
  .preprocess(
    (value) => (value === "true" ? true : value === "false" ? false : value),
    z.union([z.literal("auto"), z.boolean()]),
  )
  .default("auto");

const targetEntry = z.discriminatedUnion("driver", [
  z.object({ driver: z.literal("fs"), root: z.string(), serverSideCopy }).strict(),
  z
    .object({
      driver: z.literal("s3"),
      endpoint: z.url(),
      region: z.string().min(1).default("us-east-1"),
      bucket: z.string().min(1),
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      forcePathStyle: bool.default(false),
      partSize: z.coerce
        .number()
        .int()
        .min(5 * 1024 * 1024)
        .max(5 * 1024 ** 3)
        .default(16 * 1024 * 1024),
      partConcurrency: positiveInt(32).default(4),
      publicUrl: z.string().default(""),
      serverSideCopy,
    })
    .strict(),
]);

const httpRetry = {
  timeoutMs: ms.default(10_000),
  retries: z.coerce.number().int().min(0).max(10).default(2),
  backoffMs: ms.default(500),
};
const notifierEntry = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("webhook"),
      url: z.url(),
      secret: z.string().default(""),
      ...httpRetry,
    })
    .strict(),
  z
    .object({
      type: z.literal("redis"),
      url: z.string().regex(/^rediss?:\/\//, "a redis:// or rediss:// URL"),
      list: z.string().min(1).default("gamedock:events"),
    })
    .strict(),
  z
    .object({
      type: z.literal("robot"),
      kind: z.enum(["dingtalk", "wecom", "feishu"]),
      url: z.url(),
      secret: z.string().default(""),
      ...httpRetry,
    })
    .strict(),
]);

/** PEM text of a public key or certificate; whether it is an RSA key is checked when the routes start. */
const PEM =
  /^-----BEGIN (?:PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----\r?\n[\s\S]+-----END (?:PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----\s*$/;
/** A PEM public key, or its base64 body alone (Alipay's console shows it so). */
const BARE_KEY = /^[A-Za-z0-9+/]{64,}={0,2}$/;

/** guess.payments (docs/payments.md): a provider is configured whole or not at all. */
const payments = z
  .object({
    replayWindowMs: z.coerce.number().int().min(1000).max(3_600_000),
    minTopUp: z.coerce.number().int().min(1).max(1e12),
    maxTopUp: z.coerce.number().int().min(1).max(1e12),
    orderTtlMs: z.coerce
      .number()
      .int()
      .min(60_000)
      .max(30 * 86_400_000),
    wechat: z
      .object({
        mchId: z.union([z.literal(""), z.string().regex(/^[0-9A-Za-z_-]{1,32}$/, "a merchant id")]),
        apiV3Key: z.union([
          z.literal(""),
          z.string().regex(/^[\x21-\x7e]{32}$/, "32 printable ASCII characters"),
        ]),
        platformKeys: z.record(
          z.string().regex(/^[\x21-\x7e]{1,128}$/, "a serial: 1-128 printable ASCII characters"),
          z.string().regex(PEM, "PEM text of a public key or certificate"),
        ),
      })
      .strict()
      .refine(
        (w) => {
          const set = [w.mchId !== "", w.apiV3Key !== "", Object.keys(w.platformKeys).length > 0];
          return set.every(Boolean) || !set.some(Boolean);
        },
        { message: "WeChat Pay needs mchId, apiV3Key and platformKeys together (or none)" },
      ),
    alipay: z
      .object({
        appId: z.union([z.literal(""), z.string().regex(/^[0-9]{1,32}$/, "an Alipay app id")]),
        publicKey: z.union([
          z.literal(""),
          z
            .string()
            .refine((key) => PEM.test(key) || BARE_KEY.test(key), "PEM or base64 of a public key"),
        ]),
      })
      .strict()
      .refine((a) => (a.appId === "") === (a.publicKey === ""), {
        message: "Alipay needs appId and publicKey together (or none)",
      }),
  })
  .strict()
  .refine((p) => p.minTopUp <= p.maxTopUp, {
    message: "needs minTopUp <= maxTopUp",
    path: ["maxTopUp"],
  });

export type QueueEntry = z.input<typeof queueEntry>;
export type TargetEntry = z.input<typeof targetEntry>;
export type NotifierEntry = z.input<typeof notifierEntry>;
export type QueueConfigEntry = z.output<typeof queueEntry>;
export type TargetConfigEntry = z.output<typeof targetEntry>;
export type NotifierConfigEntry = z.output<typeof notifierEntry>;

export const configSchema = z
  .object({
    data: z.string().min(1),
    server: z
      .object({
        host: z.string().min(1),
        port: z.coerce.number().int().min(0).max(65535),
        tokens: stringList,
        publicUrl: z.union([z.literal(""), z.url()]),
        maxBodyBytes: z.coerce
          .number()
          .int()
          .min(1024)
          .max(1024 ** 3),
      })
      .strict(),
    database: z
      .object({
        driver: z.enum(["sqlite", "mysql", "postgres"]),
        path: z.string(),
        url: z.string(),
      })
      .strict(),
    queues: z.record(name, queueEntry),
    targets: z.record(name, targetEntry),
    notifiers: z.record(name, notifierEntry),
    files: z
      .object({
        target: name,
        maxUploadBytes: z.coerce.number().int().min(1),
        quotaBytes: z.coerce.number().int().min(0),
        uploadTtlSeconds: z.coerce.number().int().min(1),
        fileTtlSeconds: z.coerce.number().int().min(0),
        signingSecret: z.string(),
        signedUrlTtlSeconds: z.coerce.number().int().min(1),
        lockRedisUrl: z.union([z.literal(""), z.string().regex(/^rediss?:\/\//, "a redis:// URL")]),
        lockPrefix: z.string().min(1).max(128),
        sweepIntervalMs: z.coerce.number().int().min(100),
      })
      .strict(),
    packer: z
      .object({
        packagesRoot: z.string(),
        workDir: z.string(),
        queue: name,
        target: name,
        concurrency: z
          .object({
            pack: positiveInt(64),
            retryPack: positiveInt(64),
            upload: positiveInt(64),
            notify: positiveInt(256),
          })
          .strict(),
        retry: z
          .object({
            maxAttempts: positiveInt(100),
            initialMs: ms,
            factor: z.coerce.number().min(1).max(10),
            maxMs: ms,
          })
          .strict(),
        leaseMs: z.coerce.number().int().min(1000).max(3_600_000),
        sweepIntervalMs: z.coerce.number().int().min(100).max(3_600_000),
        motherRetentionMs: z.coerce.number().int().min(0),
        limits: z
          .object({
            maxChannels: positiveInt(1_000_000),
            maxExtras: positiveInt(10_000),
            maxExtrasBytes: positiveInt(1024 * 1024),
          })
          .strict(),
        events: z
          .object({
            maxSubscribers: positiveInt(1_000_000),
            pollMs: z.coerce.number().int().min(50).max(60_000),
            summaryMs: z.coerce.number().int().min(100).max(3_600_000),
            maxBufferedBytes: z.coerce
              .number()
              .int()
              .min(16 * 1024)
              .max(1024 ** 3),
          })
          .strict(),
      })
      .strict(),
    cluster: z
      .object({
        queue: name,
        tools: z.record(
          z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "tool names are 1-64 of A-Z a-z 0-9 _ . -"),
          z.string().regex(/^\//, "an absolute path"),
        ),
        envAllow: stringList,
        heartbeatMs: z.coerce.number().int().min(100).max(600_000),
        lostAfterMs: z.coerce.number().int().min(500).max(3_600_000),
        sweepIntervalMs: z.coerce.number().int().min(50).max(600_000),
        retentionSeconds: z.coerce.number().int().min(60),
        defaults: z
          .object({
            assignMs: z.coerce.number().int().min(100).max(86_400_000),
            stagingMs: z.coerce.number().int().min(100).max(86_400_000),
            runMs: z.coerce.number().int().min(100).max(86_400_000),
            retries: z.coerce.number().int().min(0).max(100),
          })
          .strict(),
        limits: z
          .object({
            maxArgs: positiveInt(100_000),
            maxInputs: positiveInt(100_000),
            maxInputBytes: z.coerce.number().int().min(1),
            maxOutputs: positiveInt(100_000),
            maxOutputBytes: z.coerce.number().int().min(1),
            maxSandboxBytes: z.coerce.number().int().min(1),
            maxLogBytes: z.coerce.number().int().min(1024),
          })
          .strict(),
        executor: z
          .object({
            pool: name,
            slots: positiveInt(256),
            cacheDir: z.string(),
            cacheMaxBytes: z.coerce
              .number()
              .int()
              .min(1024 * 1024),
            workDir: z.string(),
          })
          .strict(),
      })
      .strict(),
    realtime: z
      .object({
        bus: z.discriminatedUnion("driver", [
          z.object({ driver: z.literal("memory") }).strict(),
          z
            .object({
              driver: z.literal("redis"),
              url: z.string().regex(/^rediss?:\/\//, "a redis:// or rediss:// URL"),
              prefix: z
                .string()
                .regex(/^[^\s{}]+$/, "non-empty, without spaces or braces")
                .default("gamedock"),
            })
            .strict(),
        ]),
        jwtSecret: z.string(),
        jwksUrl: z.union([z.literal(""), z.url()]),
        defaultGroup: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1-64 of A-Z a-z 0-9 _ . -"),
        handlers: stringList,
        maxFrameBytes: z.coerce
          .number()
          .int()
          .min(256)
          .max(64 * 1024 * 1024),
        handlerTimeoutMs: z.coerce.number().int().min(10).max(3_600_000),
        concurrency: positiveInt(10_000),
        claimIdleMs: z.coerce.number().int().min(100).max(3_600_000),
        presenceTtlMs: z.coerce.number().int().min(300).max(3_600_000),
        drainTimeoutMs: z.coerce.number().int().min(0).max(600_000),
        allowedOrigins: stringList,
        limits: z
          .object({
            maxConnections: positiveInt(10_000_000),
            ratePerSecond: positiveInt(1_000_000),
            rateBurst: positiveInt(1_000_000),
            maxBufferedBytes: z.coerce
              .number()
              .int()
              .min(1024)
              .max(1024 ** 3),
            pingIntervalMs: z.coerce.number().int().min(100).max(3_600_000),
          })
          .strict(),
        history: z
          .object({
            maxLength: positiveInt(1_000_000),
            maxAgeMs: z.coerce
              .number()
              .int()
              .min(1000)
              .max(365 * 86_400_000),
          })
          .strict(),
      })
      .strict(),
    guess: z
      .object({
        feedUrl: z.union([z.literal(""), z.url({ protocol: /^https?$/ })]),
        feedPollMs: z.coerce.number().int().min(1000).max(86_400_000),
        enabled: bool,
        minStake: z.coerce.number().int().min(1).max(1e12),
        maxStake: z.coerce.number().int().min(1).max(1e12),
        maxStakePerMatch: z.coerce.number().int().min(1).max(1e15),
        remindBeforeMs: z.coerce
          .number()
          .int()
          .min(0)
          .max(7 * 86_400_000),
        queue: z.string().min(1),
        settleBatch: z.coerce.number().int().min(1).max(100_000),
        statsTimeZone: z.string().refine(isTimeZone, "an IANA time zone such as Asia/Shanghai"),
        payments,
      })
      .strict()
      .refine((g) => g.minStake <= g.maxStake && g.maxStake <= g.maxStakePerMatch, {
        message: "needs minStake <= maxStake <= maxStakePerMatch",
        path: ["maxStake"],
      }),
    chat: z
      .object({
        enabled: bool,
        maxTextLength: positiveInt(1_000_000),
        maxMessageBytes: positiveInt(1_048_576),
        maxGroupMembers: z.coerce.number().int().min(2).max(100_000),
        sendsPerSecond: positiveInt(10_000),
        recallWindowMs: z.coerce
          .number()
          .int()
          .min(0)
          .max(7 * 86_400_000),
        fileUrlTtlSeconds: z.coerce
          .number()
          .int()
          .min(60)
          .max(30 * 86_400),
      })
      .strict(),
    log: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
        file: z.string(),
      })
      .strict(),
    pack: z
      .object({
        concurrency: z.coerce.number().int().min(1).max(64),
        format: z.enum(["walle", "vasdolly", "both"]),
        v1Style: z.enum(["comment", "meta-inf"]),
        nameTemplate: z.string().min(1),
      })
      .strict(),
  })
  .strict();

/**
 * The effective configuration. Record entries come back from the schema with
 * defaults filled; DEFAULTS are written fully, so both satisfy this type.
 */
export type Config = z.output<typeof configSchema>;
