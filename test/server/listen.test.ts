/**
 * Where `gamedock serve` and `gamedock files` listen, through the real CLI: a
 * port in use is a usage error naming the address (not E_INTERNAL and a
 * stack), a bad --port names the flag, and a bracketed IPv6 --host works.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { errorCode, runCli, useTempDir } from "../helpers/cli.js";
import { spawnGamedock } from "../packer/serve-process.js";

function occupyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || !address) throw new Error("no address");
      resolve({ server, port: address.port });
    });
  });
}

for (const command of ["serve", "files"]) {
  describe(`gamedock ${command}: the listen address`, () => {
    let data = "";
    useTempDir((dir) => (data = dir));
    let busy: { server: Server; port: number };
    before(async () => {
      busy = await occupyPort();
    });
    after(() => {
      busy.server.close();
    });

    it("a port in use: E_ADDRESS_IN_USE naming the address and --port, exit 2, no stack", async () => {
      const result = await runCli([command, "--port", String(busy.port), "--data", data]);
      assert.equal(errorCode(result), "E_ADDRESS_IN_USE", result.stderr);
      assert.equal(result.code, 2);
      assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${busy.port} is already in use`));
      assert.match(result.stderr, /--port/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
      assert.doesNotMatch(result.stdout, /listening/);
    });

    it("--port out of range is a usage error naming the flag and the command's help", async () => {
      for (const port of ["99999", "-1", "80a", ""]) {
        const result = await runCli([command, "--port", port, "--data", data]);
        assert.equal(errorCode(result), "E_USAGE", result.stderr);
        assert.equal(result.code, 2);
        assert.match(result.stderr, /--port must be an integer from 0 to 65535/);
        assert.match(result.stderr, new RegExp(`see 'gamedock ${command} --help'`));
        assert.doesNotMatch(result.stderr, /environment variables/);
      }
    });

    it('--host "[::1]" listens on IPv6 loopback and prints the URL with brackets', async () => {
      const args = [command, "--host", "[::1]", "--port", "0", "--data", data];
      const server = await spawnGamedock([...args, "--log-level", "warn"]);
      try {
        assert.match(server.url, /^http:\/\/\[::1\]:\d+$/);
        const response = await fetch(`${server.url}/healthz`);
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), { ok: true });
      } finally {
        server.child.kill("SIGTERM");
        assert.equal(await server.exited, 0, server.stderr());
      }
    });
  });
}
