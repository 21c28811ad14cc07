import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import { GamedockError } from "../../src/core/index.js";
import { createSink, type Sink, type SinkConfig } from "../../src/notify/index.js";
import { channelDone, channelFailed, jobFinished, manyFailures } from "./events.js";
import { startReceiver, type Answer, type Receiver } from "./receiver.js";

type Kind = "dingtalk" | "wecom" | "feishu";

function robot(kind: Kind, url: string, secret = "", retries = 2): SinkConfig {
  return { type: "robot", kind, url, secret, timeoutMs: 1000, retries, backoffMs: 5 };
}

const ok = (body: unknown): Answer => ({ status: 200, body: JSON.stringify(body) });

function rejectsWith(code: string, check: (err: GamedockError) => void = () => undefined) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof GamedockError, `expected GamedockError, got ${String(err)}`);
    assert.equal(err.code, code);
    check(err);
    return true;
  };
}

interface Markdown {
  msgtype: string;
  markdown: { title?: string; text?: string; content?: string };
}

describe("robot sink", () => {
  let receiver: Receiver | undefined;
  let sink: Sink | undefined;
  afterEach(async () => {
    await sink?.close();
    await receiver?.close();
    sink = undefined;
    receiver = undefined;
  });

  describe("dingtalk", () => {
    const SECRET = "SEC0123456789abcdef钉钉";

    it("posts markdown and signs the URL as DingTalk checks it", async () => {
      receiver = await startReceiver(() => ok({ errcode: 0, errmsg: "ok" }));
      sink = await createSink(
        "ding",
        robot("dingtalk", `${receiver.url}/robot/send?access_token=tok123`, SECRET),
      );
      await sink.send(channelDone);

      const [request] = receiver.requests;
      const query = new URL(request!.url, receiver.url).searchParams;
      assert.equal(query.get("access_token"), "tok123");
      const timestamp = query.get("timestamp")!;
      assert.match(timestamp, /^\d{13}$/); // milliseconds
      // Computed here independently, following DingTalk's documented algorithm.
      const expected = createHmac("sha256", SECRET)
        .update(`${timestamp}\n${SECRET}`)
        .digest("base64");
      assert.equal(query.get("sign"), expected);
      // The base64 arrives URL-encoded: no raw "+", "/" or "=" in the query.
      const rawSign = /[?&]sign=([^&]*)/.exec(request!.url)![1]!;
      assert.doesNotMatch(rawSign, /[+/=]/);
      const wrong = createHmac("sha256", "other").update(`${timestamp}\nother`).digest("base64");
      assert.notEqual(query.get("sign"), wrong);

      const body = JSON.parse(request!.body) as Markdown;
      assert.equal(body.msgtype, "markdown");
      assert.match(body.markdown.title!, /渠道包完成 华为_cn/);
      assert.match(body.markdown.text!, /^#### \[gamedock\] 渠道包完成/);
      for (const part of [
        "job-42",
        "三国志-1.2.0.apk",
        "`华为_cn`",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "300.0 MiB",
      ]) {
        assert.ok(body.markdown.text!.includes(part), `text lacks ${part}`);
      }
    });

    it("sends the configured URL unchanged when there is no secret", async () => {
      receiver = await startReceiver(() => ok({ errcode: 0, errmsg: "ok" }));
      sink = await createSink(
        "ding",
        robot("dingtalk", `${receiver.url}/robot/send?access_token=t`),
      );
      await sink.send(jobFinished);
      assert.equal(receiver.requests[0]!.url, "/robot/send?access_token=t");
    });

    it("treats errcode 310000 (sign/keyword check failed) as permanent", async () => {
      receiver = await startReceiver(() =>
        ok({ errcode: 310000, errmsg: "sign not match, more: [https://ding-doc...]" }),
      );
      sink = await createSink(
        "ding",
        robot("dingtalk", `${receiver.url}/robot/send?access_token=very-secret-token`, SECRET),
      );
      await assert.rejects(
        sink.send(channelFailed),
        rejectsWith("E_NOTIFY_PERMANENT", (err) => {
          assert.match(err.message, /310000/);
          assert.match(err.message, /sign not match/);
          assert.equal(err.details?.errcode, 310000);
          assert.equal(err.retryable, false);
          // Robot URLs carry tokens: messages name the host only.
          assert.ok(!err.message.includes("very-secret-token"));
          assert.ok(!err.message.includes(SECRET));
        }),
      );
      assert.equal(receiver.requests.length, 1);
    });

    it("retries errcode 130101 (sending too fast), then delivers", async () => {
      receiver = await startReceiver((_, i) =>
        i === 0
          ? ok({ errcode: 130101, errmsg: "send too fast" })
          : ok({ errcode: 0, errmsg: "ok" }),
      );
      sink = await createSink("ding", robot("dingtalk", `${receiver.url}/send`, SECRET));
      await sink.send(channelDone);
      assert.equal(receiver.requests.length, 2);
      // Every attempt carries a valid signature for its own timestamp.
      const base = receiver.url;
      for (const request of receiver.requests) {
        const query = new URL(request.url, base).searchParams;
        const timestamp = query.get("timestamp")!;
        const expected = createHmac("sha256", SECRET)
          .update(`${timestamp}\n${SECRET}`)
          .digest("base64");
        assert.equal(query.get("sign"), expected);
      }
    });

    it("fails with E_NOTIFY_FAILED when the rate limit outlasts the retries", async () => {
      receiver = await startReceiver(() => ok({ errcode: 410100, errmsg: "send too fast" }));
      sink = await createSink("ding", robot("dingtalk", `${receiver.url}/send`, "", 1));
      await assert.rejects(
        sink.send(channelDone),
        rejectsWith("E_NOTIFY_FAILED", (err) => {
          assert.equal(err.retryable, true);
          assert.equal(err.details?.errcode, 410100);
        }),
      );
      assert.equal(receiver.requests.length, 2);
    });
  });

  describe("wecom", () => {
    it("posts markdown content with the Chinese text intact", async () => {
      receiver = await startReceiver(() => ok({ errcode: 0, errmsg: "ok" }));
      sink = await createSink("wx", robot("wecom", `${receiver.url}/cgi-bin/webhook/send?key=k`));
      await sink.send(channelFailed);

      const [request] = receiver.requests;
      assert.equal(request!.url, "/cgi-bin/webhook/send?key=k");
      assert.match(String(request!.headers["content-type"]), /application\/json/);
      const body = JSON.parse(request!.body) as Markdown;
      assert.equal(body.msgtype, "markdown");
      assert.deepEqual(Object.keys(body.markdown), ["content"]);
      const content = body.markdown.content!;
      assert.match(content, /渠道包失败 小米/);
      assert.match(content, /E_UPLOAD_FAILED/);
      // The multi-line error is flattened to one line.
      assert.match(content, /上传到 OSS 失败: 连接超时 \(第 3 次\)/);
      assert.match(content, /尝试 attempts: 3/);
    });

    it("keeps a huge job summary within WeCom's 4096-byte limit", async () => {
      receiver = await startReceiver(() => ok({ errcode: 0, errmsg: "ok" }));
      sink = await createSink("wx", robot("wecom", `${receiver.url}/send?key=k`));
      await sink.send(manyFailures(200));
      const content = (JSON.parse(receiver.requests[0]!.body) as Markdown).markdown.content!;
      assert.ok(Buffer.byteLength(content, "utf8") <= 4096);
      assert.match(content, /另有 190 个失败渠道|…$/);
      assert.ok(!content.includes("\uFFFD"), "no character cut in half");
    });

    it("retries 45009 (rate limit) and fails permanently on other errcodes", async () => {
      receiver = await startReceiver((_, i) =>
        i < 2
          ? ok({ errcode: 45009, errmsg: "api freq out of limit" })
          : ok({ errcode: 0, errmsg: "ok" }),
      );
      sink = await createSink("wx", robot("wecom", `${receiver.url}/send?key=k`));
      await sink.send(channelDone);
      assert.equal(receiver.requests.length, 3);
      await sink.close();
      await receiver.close();

      receiver = await startReceiver(() => ok({ errcode: 93000, errmsg: "invalid webhook url" }));
      sink = await createSink("wx", robot("wecom", `${receiver.url}/send?key=k`));
      await assert.rejects(
        sink.send(channelDone),
        rejectsWith("E_NOTIFY_PERMANENT", (err) => {
          assert.match(err.message, /93000/);
        }),
      );
      assert.equal(receiver.requests.length, 1);
    });
  });

  describe("feishu", () => {
    const SECRET = "feishu-签名-secret";

    it("posts an interactive card signed in the body as Feishu checks it", async () => {
      receiver = await startReceiver(() => ok({ code: 0, msg: "success", data: {} }));
      sink = await createSink(
        "fs",
        robot("feishu", `${receiver.url}/open-apis/bot/v2/hook/abc`, SECRET),
      );
      const before = Math.floor(Date.now() / 1000);
      await sink.send(jobFinished);
      const after = Math.floor(Date.now() / 1000);

      const body = JSON.parse(receiver.requests[0]!.body) as {
        timestamp: string;
        sign: string;
        msg_type: string;
        card: {
          header: { title: { tag: string; content: string }; template: string };
          elements: { tag: string; content: string }[];
        };
      };
      const seconds = Number(body.timestamp);
      assert.ok(seconds >= before && seconds <= after, "timestamp is now, in seconds");
      // Computed here independently: key = timestamp + "\n" + secret, empty data.
      const expected = createHmac("sha256", `${body.timestamp}\n${SECRET}`)
        .update("")
        .digest("base64");
      assert.equal(body.sign, expected);
      assert.notEqual(
        body.sign,
        createHmac("sha256", `${body.timestamp}\nwrong`).update("").digest("base64"),
      );

      assert.equal(body.msg_type, "interactive");
      assert.equal(body.card.header.title.tag, "plain_text");
      assert.match(body.card.header.title.content, /打包任务部分失败 三国志-1\.2\.0\.apk/);
      assert.equal(body.card.header.template, "orange");
      assert.equal(body.card.elements[0]!.tag, "markdown");
      const text = body.card.elements[0]!.content;
      assert.match(text, /完成 done 1 \/ 失败 failed 1/);
      assert.match(text, /小米/);
      // Feishu's card markdown has no inline code, so no backticks.
      assert.ok(!text.includes("`"));
    });

    it("sends no timestamp or sign without a secret, and accepts the old StatusCode answer", async () => {
      receiver = await startReceiver(() => ok({ StatusCode: 0, StatusMessage: "success" }));
      sink = await createSink("fs", robot("feishu", `${receiver.url}/hook/abc`));
      await sink.send(channelDone);
      const body = JSON.parse(receiver.requests[0]!.body) as Record<string, unknown>;
      assert.equal(body.timestamp, undefined);
      assert.equal(body.sign, undefined);
    });

    it("treats code 19021 (bad signature) as permanent and 11232 (rate limit) as retryable", async () => {
      receiver = await startReceiver(() =>
        ok({
          code: 19021,
          msg: "sign match fail or timestamp is not within one hour from current time",
        }),
      );
      sink = await createSink("fs", robot("feishu", `${receiver.url}/hook/abc`, SECRET));
      await assert.rejects(sink.send(channelDone), rejectsWith("E_NOTIFY_PERMANENT"));
      assert.equal(receiver.requests.length, 1);
      await sink.close();
      await receiver.close();

      receiver = await startReceiver(() => ({
        status: 400,
        body: JSON.stringify({ code: 11232, msg: "frequency limited" }),
      }));
      sink = await createSink("fs", robot("feishu", `${receiver.url}/hook/abc`, SECRET, 1));
      await assert.rejects(
        sink.send(channelDone),
        rejectsWith("E_NOTIFY_FAILED", (err) => {
          assert.equal(err.details?.errcode, 11232);
          assert.equal(err.details?.status, 400);
        }),
      );
      assert.equal(receiver.requests.length, 2);
    });
  });

  it("refuses a 2xx answer that is not the robot's JSON (wrong URL)", async () => {
    receiver = await startReceiver(() => ({ status: 200, body: "<html>login</html>" }));
    sink = await createSink("ding", robot("dingtalk", `${receiver.url}/send`));
    await assert.rejects(
      sink.send(channelDone),
      rejectsWith("E_NOTIFY_PERMANENT", (err) => {
        assert.match(err.message, /check the URL/);
      }),
    );
  });

  it("retries an HTTP 500 without a robot answer", async () => {
    receiver = await startReceiver((_, i) =>
      i === 0 ? { status: 500, body: "oops" } : ok({ errcode: 0, errmsg: "ok" }),
    );
    sink = await createSink("wx", robot("wecom", `${receiver.url}/send`));
    await sink.send(channelDone);
    assert.equal(receiver.requests.length, 2);
  });
});
