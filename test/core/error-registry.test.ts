/**
 * The error registry as users meet it: every code is documented in
 * docs/cli.md with the exit code and HTTP status the registry gives it, and
 * retryable codes are exactly the transient ones.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ERROR_CODES, GamedockError, type ErrorCode } from "../../src/core/index.js";
import { ROOT } from "../helpers/cli.js";

describe("error registry", () => {
  it("documents every code with its exit code and HTTP status in docs/cli.md", async () => {
    const doc = await readFile(join(ROOT, "docs", "cli.md"), "utf8");
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      const row = new RegExp(`^\\| \`${code}\` \\| ${spec.exit} \\| ${spec.http} \\|`, "m");
      assert.match(
        doc,
        row,
        `docs/cli.md has no row for ${code} (exit ${spec.exit}, HTTP ${spec.http})`,
      );
    }
  });

  it("says which failures another try may fix, and lets one error say otherwise", () => {
    const retryable = (Object.keys(ERROR_CODES) as ErrorCode[]).filter(
      (code) => new GamedockError(code, "x").retryable,
    );
    assert.deepEqual(retryable.sort(), [
      "E_DISK_FULL",
      "E_DRAINING", // sent again on the gateway it reconnects to
      "E_EXECUTOR_LOST",
      "E_INTERNAL",
      "E_NOTIFY_FAILED",
      "E_RATE_LIMITED", // a realtime client may send again when its rate drops
      "E_SERVICE_UNAVAILABLE",
      "E_STAGING_TIMEOUT",
      "E_SUBSCRIBERS_LIMIT",
      "E_TIMEOUT", // a realtime handler past its time limit: the request may be sent again
      "E_UPLOAD_FAILED",
    ]);
    assert.equal(
      new GamedockError("E_UPLOAD_FAILED", "x", {}, { retryable: false }).retryable,
      false,
    );
    assert.equal(new GamedockError("E_CONFIG", "x", {}, { retryable: true }).retryable, true);
  });
});
