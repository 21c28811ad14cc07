/** `gamedock token`: tokens a gateway of the same data directory or secret accepts, and its refusals. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { secretAuthenticator } from "../../src/realtime/index.js";
import { errorCode, runCli, useTempDir } from "../helpers/cli.js";

describe("gamedock token", () => {
  let dir = "";
  useTempDir((d) => (dir = d), "gamedock-token-");

  it("signs with the key it generates into the data directory, as serve does", async () => {
    const data = join(dir, "data");
    const result = await runCli([
      "token",
      "--uid",
      "alice",
      "--group",
      "lobby",
      "--ttl",
      "90s",
      "--data",
      data,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const key = Buffer.from((await readFile(join(data, "realtime.key"), "utf8")).trim(), "hex");
    const claims = await secretAuthenticator(key).verify(result.stdout.trim());
    assert.equal(claims.uid, "alice");
    assert.equal(claims.group, "lobby");
    const left = claims.exp! - Date.now() / 1000;
    assert.ok(left > 60 && left <= 90, `expires in ${left} s`);
    const again = await runCli(["token", "--uid", "bob", "--data", data]);
    const bob = await secretAuthenticator(key).verify(again.stdout.trim());
    assert.equal(bob.group, undefined, "no --group: the gateway's default group");
    assert.ok(bob.exp! - Date.now() / 1000 > 3500, "--ttl defaults to 1h");
  });

  it("signs with realtime.jwtSecret when it is set", async () => {
    const secret = "a-shared-secret-for-every-gateway";
    const result = await runCli(["token", "--uid", "carol", "--data", join(dir, "d2")], {
      env: { GAMEDOCK_REALTIME_JWT_SECRET: secret },
    });
    assert.equal(result.code, 0, result.stderr);
    const claims = await secretAuthenticator(new TextEncoder().encode(secret)).verify(
      result.stdout.trim(),
    );
    assert.equal(claims.uid, "carol");
  });

  it("refuses a bad --ttl or --group with E_USAGE, and a missing --uid", async () => {
    for (const args of [
      ["--ttl", "0s"],
      ["--ttl", "1 hour"],
      ["--ttl", "999d"],
      ["--group", "no spaces"],
    ]) {
      const result = await runCli(["token", "--uid", "x", "--data", join(dir, "d3"), ...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.equal(errorCode(result), "E_USAGE", args.join(" "));
      assert.match(result.stderr, new RegExp(args[0]!));
    }
    const noUid = await runCli(["token", "--data", join(dir, "d3")]);
    assert.equal(noUid.code, 2);
    assert.match(noUid.stderr, /--uid/);
  });

  it("refuses to mint when tokens come from a JWKS URL", async () => {
    const result = await runCli(["token", "--uid", "x", "--data", join(dir, "d4")], {
      env: { GAMEDOCK_REALTIME_JWKS_URL: "https://login.example.com/.well-known/jwks.json" },
    });
    assert.equal(errorCode(result), "E_CONFIG");
    assert.match(result.stderr, /jwksUrl/);
  });
});
