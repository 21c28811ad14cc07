/**
 * A PATCH body feeding the digest meter: whatever way the body stops — its
 * end, an error, a close before its end — the meter ends with every byte the
 * body delivered, and the caller learns why the body stopped.
 */
import assert from "node:assert/strict";
import { PassThrough, Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { describe, it } from "node:test";
import { feed } from "../../src/files/tus/feed.js";

/** A sink that keeps what reaches it. */
function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

describe("feeding a PATCH body to the meter", () => {
  it("resolves null at the body's end, with every byte through", async () => {
    const out = sink();
    const fed = feed(Readable.from([Buffer.from("abc"), Buffer.from("def")]), out.stream);
    assert.equal(await fed, null);
    await finished(out.stream);
    assert.equal(out.bytes().toString(), "abcdef");
  });

  for (const [how, stop] of [
    ["fails", (body: PassThrough) => body.destroy(new Error("the client went away"))],
    ["closes before its end", (body: PassThrough) => body.destroy()],
  ] as const) {
    it(`ends the meter, keeping the bytes delivered, when the body ${how}`, async () => {
      const body = new PassThrough();
      const out = sink();
      const fed = feed(body, out.stream);
      body.write("delivered ");
      body.write("bytes");
      await new Promise((resolve) => setImmediate(resolve));
      stop(body);
      const failure = await fed;
      assert.ok(failure instanceof Error);
      assert.match(failure.message, /went away|closed before its end/);
      await finished(out.stream); // ended, not destroyed: it finishes
      assert.equal(out.bytes().toString(), "delivered bytes");
    });
  }
});
