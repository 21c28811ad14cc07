/**
 * What every stage needs: the store, the queues of each configured backend,
 * upload targets and notifiers (opened on first use, so a setup that never
 * uploads to S3 never loads the AWS SDK), the mother cache and the policies.
 */
import { EventEmitter } from "node:events";
import type { BlobStore, BlobTargetConfig } from "../blob/index.js";
import { openBlobStore } from "../blob/index.js";
import { GamedockError, type Logger } from "../core/index.js";
import { createSink, type Sink, type SinkConfig } from "../notify/index.js";
import type { Queue, QueueBackend, RetryPolicy } from "../queue/index.js";
import type { NotifyMessage, StageMessage, TaskRef } from "./model.js";
import { OWNER, ownerIsLive } from "./owner.js";
import { choosesCompose } from "./compose-choice.js";
import { MotherCache } from "./mother-cache.js";
import type { PackStore } from "./store/index.js";

export interface StageQueues {
  pack: Queue<StageMessage>;
  packRetry: Queue<StageMessage>;
  upload: Queue<StageMessage>;
  notify: Queue<NotifyMessage>;
}

export interface PackerSettings {
  /** What one request may ask for (packer.limits). */
  limits: { maxChannels: number; maxExtras: number; maxExtrasBytes: number };
  /** Event streams (packer.events). */
  events: { maxSubscribers: number; pollMs: number; summaryMs: number; maxBufferedBytes: number };
  workDir: string;
  packagesRoot: string;
  /** Base of download URLs in events and views, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  defaultQueue: string;
  defaultTarget: string;
  v1Style: "comment" | "meta-inf";
  format: "walle" | "vasdolly" | "both"; // for jobs that name none
  nameTemplate: string; // for jobs that name none
  concurrency: { pack: number; retryPack: number; upload: number; notify: number };
  retry: RetryPolicy;
  leaseMs: number;
  sweepIntervalMs: number;
  /** How long a composed job's uploaded mother stays after its last job finished, ms. */
  motherRetentionMs: number;
}

export class PackerContext {
  readonly events = new EventEmitter();
  readonly mothers = new MotherCache();
  /** Mothers this process put on a target (mother-upload.ts), by "<target>\0<sha256>": one upload each. */
  readonly placedMothers = new Map<string, Promise<string>>();
  readonly #targets = new Map<string, Promise<BlobStore>>();
  readonly #sinks = new Map<string, Promise<Sink>>();
  readonly #composes = new Map<string, Promise<boolean>>();
  readonly #queues = new Map<string, StageQueues>();
  /**
   * Resolves `apk: {fileId}` to a local path inside the packages root; set by
   * `serve`, which runs the file service. null: only paths are accepted.
   */
  fileSource: ((fileId: string) => Promise<{ path: string; name: string }>) | null = null;
  /** The file service's signing key, for signed links to children; null: no signed links. */
  signingKey: Buffer | null = null;
  /** Tasks a handler of this process is working on right now. */
  readonly #held = new Set<string>();

  constructor(
    readonly store: PackStore,
    readonly backends: ReadonlyMap<string, QueueBackend>,
    readonly targetConfigs: Readonly<Record<string, BlobTargetConfig>>,
    readonly notifierConfigs: Readonly<Record<string, SinkConfig>>,
    readonly settings: PackerSettings,
    readonly logger: Logger,
    readonly signal: AbortSignal,
  ) {
    this.events.setMaxListeners(0);
  }

  /** The four stage queues on backend `name`. */
  queues(name: string): StageQueues {
    let queues = this.#queues.get(name);
    if (!queues) {
      const backend = this.backends.get(name);
      if (!backend) {
        throw new GamedockError("E_CONFIG", `queue ${JSON.stringify(name)} is not configured`);
      }
      queues = {
        pack: backend.open<StageMessage>("pack"),
        packRetry: backend.open<StageMessage>("pack-retry"),
        upload: backend.open<StageMessage>("upload"),
        notify: backend.open<NotifyMessage>("notify"),
      };
      this.#queues.set(name, queues);
    }
    return queues;
  }

  target(name: string): Promise<BlobStore> {
    const known = this.#targets.get(name);
    if (known) return known;
    const config = this.targetConfigs[name];
    if (!config) {
      return Promise.reject(
        new GamedockError("E_CONFIG", `upload target ${JSON.stringify(name)} is not configured`),
      );
    }
    const store = openBlobStore(config);
    store.catch(() => this.#targets.delete(name));
    this.#targets.set(name, store);
    return store;
  }

  /** Whether channels for target `name` are composed there (compose-choice.ts); asked once. */
  composes(name: string): Promise<boolean> {
    const known = this.#composes.get(name);
    if (known) return known;
    const config = this.targetConfigs[name];
    const choice = this.target(name).then((store) =>
      config ? choosesCompose(name, config, store, this.logger) : false,
    );
    choice.catch(() => this.#composes.delete(name));
    this.#composes.set(name, choice);
    return choice;
  }

  /** The targets opened so far (used by a stage of this process), by name. */
  openedTargets(): [string, Promise<BlobStore>][] {
    return [...this.#targets];
  }

  sink(name: string): Promise<Sink> {
    const known = this.#sinks.get(name);
    if (known) return known;
    const config = this.notifierConfigs[name];
    if (!config) {
      return Promise.reject(
        new GamedockError("E_CONFIG", `notifier ${JSON.stringify(name)} is not configured`),
      );
    }
    const sink = createSink(name, config);
    sink.catch(() => this.#sinks.delete(name));
    this.#sinks.set(name, sink);
    return sink;
  }

  /**
   * Marks a task as worked on here by `stage`; false if a handler of that stage
   * here already has it (a duplicate message). Per stage, because the next
   * stage's message can arrive before the previous handler has returned.
   */
  tryHold(stage: "pack" | "upload", ref: TaskRef): boolean {
    const key = `${stage}\0${ref.jobId}\0${ref.channel}`;
    if (this.#held.has(key)) return false;
    this.#held.add(key);
    return true;
  }

  unhold(stage: "pack" | "upload", ref: TaskRef): void {
    this.#held.delete(`${stage}\0${ref.jobId}\0${ref.channel}`);
  }

  /**
   * Whether the holder of a task is alive. This process counts only for tasks
   * a handler here is working on: one it holds but no handler has (a handler
   * that failed to hand it back) is free to take again.
   */
  holderIsLive(ref: TaskRef, owner: string, leaseUntil: number): boolean {
    if (owner === OWNER) {
      const task = `${ref.jobId}\0${ref.channel}`;
      return this.#held.has(`pack\0${task}`) || this.#held.has(`upload\0${task}`);
    }
    return ownerIsLive(owner, leaseUntil);
  }

  /** Tells SSE listeners in this process that a job changed (they also poll). */
  touched(jobId: string): void {
    this.events.emit("job", jobId);
  }

  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const store of this.#targets.values()) {
      closing.push(store.then((s) => s.close()).catch(() => undefined));
    }
    for (const sink of this.#sinks.values()) {
      closing.push(sink.then((s) => s.close()).catch(() => undefined));
    }
    await Promise.all(closing);
  }
}
