import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderMarkdown } from "../../src/notify/index.js";
import { humanSize, truncateUtf8 } from "../../src/notify/markdown.js";
import { channelDone, channelFailed, jobFinished, manyFailures } from "./events.js";

describe("robot markdown", () => {
  it("renders a finished channel with job, apk, channel, status, size, sha256 and link", () => {
    const message = renderMarkdown(channelDone);
    assert.equal(message.title, "[gamedock] 渠道包完成 华为_cn");
    assert.equal(message.tone, "success");
    assert.ok(message.text.startsWith(`#### ${message.title}\n\n`));
    const text = message.text;
    for (const part of [
      "**任务 job**: `job-42`",
      "**母包 apk**: `三国志-1.2.0.apk`",
      "**渠道 channel**: `华为_cn`",
      "完成 (done)",
      "300.0 MiB (314572800 bytes)",
      "`9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`",
      "(https://cdn.example.com/games/%E4%B8%89%E5%9B%BD%E5%BF%97/1.2.0-huawei.apk)",
    ]) {
      assert.ok(text.includes(part), `missing ${part} in\n${text}`);
    }
  });

  it("names the object key when the store has no public URL", () => {
    const event = {
      ...channelDone,
      output: { ...(channelDone as { output: object }).output, url: null },
    };
    const text = renderMarkdown(event as typeof channelDone).text;
    assert.match(text, /\*\*对象 key\*\*: `games\/三国志\/三国志-1\.2\.0-华为_cn\.apk`/);
  });

  it("renders a failed channel with its error on one line", () => {
    const message = renderMarkdown(channelFailed);
    assert.equal(message.tone, "failure");
    assert.match(
      message.text,
      /\*\*错误 error\*\*: `E_UPLOAD_FAILED` 上传到 OSS 失败: 连接超时 \(第 3 次\)/,
    );
  });

  it("renders a job summary with counts and the failed channels", () => {
    const message = renderMarkdown(jobFinished);
    assert.equal(message.tone, "warning");
    assert.match(message.title, /打包任务部分失败/);
    assert.match(message.text, /部分失败 \(partial\)/);
    assert.match(message.text, /\*\*失败 failed\*\* `小米`: `E_UPLOAD_FAILED`/);
  });

  it("caps the list of failed channels", () => {
    const text = renderMarkdown(manyFailures(25)).text;
    assert.equal(text.match(/\*\*失败 failed\*\*/g)?.length, 10);
    assert.match(text, /另有 15 个失败渠道 \(15 more\)/);
  });

  it("keeps markdown from breaking: backticks in names, no code spans when asked", () => {
    const tricky = { ...channelFailed, channel: "a`b*c_d" };
    assert.match(renderMarkdown(tricky).text, /`a'b\*c_d`/);
    const plain = renderMarkdown(tricky, { code: false });
    assert.ok(!plain.body.includes("`"));
    assert.ok(!plain.body.startsWith("####"));
  });

  it("formats sizes and cuts UTF-8 at character boundaries", () => {
    assert.equal(humanSize(512), "512 B");
    assert.equal(humanSize(1536), "1.5 KiB");
    const cut = truncateUtf8("渠道".repeat(100), 100);
    assert.ok(Buffer.byteLength(cut, "utf8") <= 100);
    assert.ok(cut.endsWith("…"));
    assert.ok(!cut.includes("\uFFFD"));
    assert.equal(truncateUtf8("short", 100), "short");
  });
});
