import { randomBytes } from "node:crypto";
import type { NewJob } from "../../src/packer/model.js";

/** Shapes of the packer API's JSON, as the tests read them. */
export interface ChannelJson {
  channel: string;
  state: string;
  attempts: number;
  error: { code: string; message: string } | null;
  output: { key: string; size: number; sha256: string; url: string | null } | null;
}

export interface JobJson {
  id: string;
  status: string;
  apk: string;
  upload: { target: string; prefix: string };
  extras: Record<string, string>;
  createdAt: string;
  finishedAt: string | null;
  counts: Record<string, number> & { total: number };
  seq: number;
  channels: ChannelJson[];
  nextCursor: string | null;
}

export interface ErrorJson {
  error: {
    code: string;
    message: string;
    details?: { field?: string };
    requestId?: string;
  };
}

/**
 * A job as the API would hand it to the store, for tests of the store and the
 * event streams: `channels` channels named c0, c1, … with no extras.
 */
export function newJobFor(channels: number, overrides: Partial<NewJob> = {}): NewJob {
  const id = `t${randomBytes(8).toString("hex")}`;
  return {
    id,
    apk: "demo.apk",
    apkPath: "/nowhere/demo.apk",
    queue: "default",
    target: "fs",
    prefix: `pack-jobs/${id}/`,
    nameTemplate: "{channel}.apk",
    format: "walle",
    notifyLevel: "summary",
    notifyTargets: ["hook"],
    sharedExtras: {},
    channels: Array.from({ length: channels }, (_, i) => ({
      channel: `c${i}`,
      extras: {},
      fileName: `c${i}.apk`,
    })),
    ...overrides,
  };
}
