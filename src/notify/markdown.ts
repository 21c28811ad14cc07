/**
 * Renders an event as a short markdown message for chat robots. Labels are
 * Chinese with the English field name beside them, so a studio's group chat
 * reads naturally and the fields still match the JSON the webhook sends.
 *
 * Lines are separated by a blank line: DingTalk's markdown joins single
 * newlines, while WeCom and Feishu render the blank line as a small gap.
 * The size stays small whatever the job (failure lists and error messages are
 * capped), because robots refuse long messages (WeCom: 4096 bytes).
 */
import type { NotifyEvent } from "./contract.js";

export interface RobotMessage {
  /** Plain one-line title (DingTalk's notification preview, Feishu's card header). */
  title: string;
  /** The markdown lines without a heading. */
  body: string;
  /** A "####" heading with the title, then the body. */
  text: string;
  /** Colour hint for robots with coloured headers. */
  tone: "success" | "warning" | "failure";
}

export interface RenderOptions {
  /**
   * Put identifiers in `code` spans, so "_" and "*" in channel names are not read
   * as emphasis. Feishu's card markdown (JSON 1.0) has no inline code; pass false.
   */
  code?: boolean;
}

const STATUS_ZH = {
  done: "完成",
  partial: "部分失败",
  failed: "失败",
  cancelled: "已取消",
} as const;

const TASK_STATUS_ZH = {
  done: "完成",
  failed: "失败",
  timed_out: "超时",
  cancelled: "已取消",
} as const;

/** Failed channels listed in a job summary; the rest are counted. */
const MAX_FAILED_LISTED = 10;
const MAX_ERROR_CHARS = 300;

export function renderMarkdown(event: NotifyEvent, options: RenderOptions = {}): RobotMessage {
  // A backtick inside a name would end the code span (or start one), so it becomes "'".
  const id = (value: string): string => {
    const safe = flat(value, 200).replace(/`/g, "'");
    return options.code === false ? safe : `\`${safe}\``;
  };
  const lines =
    event.type === "task.finished"
      ? [
          `**任务 task**: ${id(event.taskId)}`,
          `**工具 tool**: ${id(event.tool)} (pool ${id(event.pool)})`,
        ]
      : [`**任务 job**: ${id(event.jobId)}`, `**母包 apk**: ${id(event.apk)}`];
  let title: string;
  let tone: RobotMessage["tone"];
  switch (event.type) {
    case "task.finished": {
      title = `集群任务${TASK_STATUS_ZH[event.status]} ${flat(event.tool, 60)}`;
      tone =
        event.status === "done" ? "success" : event.status === "cancelled" ? "warning" : "failure";
      lines.push(`**状态 status**: ${TASK_STATUS_ZH[event.status]} (${event.status})`);
      if (event.exitCode !== null) lines.push(`**退出码 exit code**: ${event.exitCode}`);
      if (event.error) {
        lines.push(
          `**错误 error**: ${id(event.error.code)} ${flat(event.error.message, MAX_ERROR_CHARS)}`,
        );
      }
      for (const output of event.outputs.slice(0, MAX_FAILED_LISTED)) {
        lines.push(`**输出 output** ${id(output.path)}: ${humanSize(output.size)}`);
      }
      break;
    }
    case "channel.done": {
      title = `渠道包完成 ${flat(event.channel, 60)}`;
      tone = "success";
      lines.push(
        `**渠道 channel**: ${id(event.channel)}`,
        `**状态 status**: ${STATUS_ZH.done} (done)`,
        `**大小 size**: ${humanSize(event.output.size)} (${event.output.size} bytes)`,
        `**SHA-256**: ${id(event.output.sha256)}`,
        event.output.url === null
          ? `**对象 key**: ${id(event.output.key)}`
          : `**下载 url**: [${flat(event.output.key, 120).replace(/[[\]]/g, "")}](${linkTarget(event.output.url)})`,
      );
      break;
    }
    case "channel.failed": {
      title = `渠道包失败 ${flat(event.channel, 60)}`;
      tone = "failure";
      lines.push(
        `**渠道 channel**: ${id(event.channel)}`,
        `**状态 status**: ${STATUS_ZH.failed} (failed), 尝试 attempts: ${event.attempts}`,
        `**错误 error**: ${id(event.error.code)} ${flat(event.error.message, MAX_ERROR_CHARS)}`,
      );
      break;
    }
    case "job.finished": {
      title = `打包任务${STATUS_ZH[event.status]} ${flat(event.apk, 60)}`;
      tone =
        event.status === "done" ? "success" : event.status === "failed" ? "failure" : "warning";
      const c = event.counts;
      lines.push(
        `**状态 status**: ${STATUS_ZH[event.status]} (${event.status})`,
        `**渠道 channels**: 完成 done ${c.done} / 失败 failed ${c.failed} / ` +
          `取消 cancelled ${c.cancelled} / 共 total ${c.total}`,
      );
      for (const f of event.failed.slice(0, MAX_FAILED_LISTED)) {
        lines.push(`**失败 failed** ${id(f.channel)}: ${id(f.code)} ${flat(f.message, 120)}`);
      }
      const more = event.failed.length - MAX_FAILED_LISTED;
      if (more > 0) lines.push(`……另有 ${more} 个失败渠道 (${more} more)`);
      break;
    }
  }
  lines.push(`**时间 at**: ${flat(event.at, 40)}`);
  const fullTitle = `[gamedock] ${title}`;
  const body = lines.join("\n\n");
  return { title: fullTitle, body, text: `#### ${fullTitle}\n\n${body}`, tone };
}

/** One line, capped: error messages may hold stack-like text or newlines. */
function flat(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** A URL that cannot close the markdown link early. */
function linkTarget(url: string): string {
  return url.replace(
    /[()\s]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}

export function humanSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]!}`;
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const marker = "…";
  const budget = maxBytes - Buffer.byteLength(marker, "utf8");
  let bytes = 0;
  let kept = "";
  // Walk code points, so a Chinese character or an emoji is never cut in half.
  for (const point of text) {
    bytes += Buffer.byteLength(point, "utf8");
    if (bytes > budget) break;
    kept += point;
  }
  return kept + marker;
}
