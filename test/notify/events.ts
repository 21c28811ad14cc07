/** Sample events with Chinese names, as a studio's jobs produce them. */
import type { NotifyEvent } from "../../src/notify/index.js";

export const channelDone: NotifyEvent = {
  id: "job-42:华为_cn:done",
  type: "channel.done",
  jobId: "job-42",
  apk: "三国志-1.2.0.apk",
  channel: "华为_cn",
  output: {
    key: "games/三国志/三国志-1.2.0-华为_cn.apk",
    size: 314_572_800,
    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    url: "https://cdn.example.com/games/%E4%B8%89%E5%9B%BD%E5%BF%97/1.2.0-huawei.apk",
  },
  at: "2024-05-01T08:00:00.000Z",
};

export const channelFailed: NotifyEvent = {
  id: "job-42:小米:failed",
  type: "channel.failed",
  jobId: "job-42",
  apk: "三国志-1.2.0.apk",
  channel: "小米",
  error: { code: "E_UPLOAD_FAILED", message: "上传到 OSS 失败: 连接超时\n(第 3 次)" },
  attempts: 3,
  at: "2024-05-01T08:01:00.000Z",
};

export const jobFinished: NotifyEvent = {
  id: "job-42:finished",
  type: "job.finished",
  jobId: "job-42",
  apk: "三国志-1.2.0.apk",
  status: "partial",
  counts: { done: 1, failed: 1, cancelled: 0, total: 2 },
  failed: [{ channel: "小米", code: "E_UPLOAD_FAILED", message: "上传到 OSS 失败: 连接超时" }],
  at: "2024-05-01T08:02:00.000Z",
};

/** A job whose failures would overflow a robot message if listed in full. */
export function manyFailures(count: number): NotifyEvent {
  const failed = Array.from({ length: count }, (_, i) => ({
    channel: `渠道${i}`,
    code: "E_UPLOAD_FAILED",
    message: "上传失败:".repeat(40),
  }));
  return {
    id: "job-7:finished",
    type: "job.finished",
    jobId: "job-7",
    apk: "游戏.apk",
    status: "failed",
    counts: { done: 0, failed: count, cancelled: 0, total: count },
    failed,
    at: "2024-05-01T09:00:00.000Z",
  };
}
