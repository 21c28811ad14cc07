/**
 * `gamedock guess reconcile` as an operator runs it: on the database a data
 * directory holds, exit 0 while every balance equals its ledger, exit 1 with
 * E_LEDGER_MISMATCH and the wallet named once one does not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openDatabase } from "../../src/db/index.js";
import { Wallets } from "../../src/guess/index.js";
import { errorCode, removeDir, runCli, tempDir } from "../helpers/cli.js";

describe("gamedock guess reconcile", () => {
  let data = "";
  before(async () => {
    data = await tempDir("gamedock-guess-cli-");
  });
  after(() => removeDir(data));

  it("passes on agreeing wallets and names the one that does not agree", async () => {
    const empty = await runCli(["guess", "reconcile", "--data", data]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /0 wallets, 0 ledger entries: every balance equals its ledger/);

    const database = await openDatabase({ driver: "sqlite", path: join(data, "gamedock.db") });
    try {
      const wallets = new Wallets(database);
      await wallets.post({ cause: "topup:o-1", uid: "玩家一", kind: "topup", amount: 800 });
      await wallets.post({ cause: "stake:b-1", uid: "玩家一", kind: "stake", amount: -300 });
      const fine = await runCli(["guess", "reconcile", "--data", data]);
      assert.equal(fine.code, 0, fine.stderr);
      assert.match(fine.stdout, /1 wallet, 2 ledger entries/);
      await database.db.updateTable("guess_wallets").set({ balance: 10_000 }).execute();
    } finally {
      await database.close();
    }

    const wrong = await runCli(["guess", "reconcile", "--data", data]);
    assert.equal(wrong.code, 1);
    assert.equal(errorCode(wrong), "E_LEDGER_MISMATCH");
    assert.match(wrong.stdout, /玩家一: balance 10000, ledger sum 500/);
    const json = await runCli(["guess", "reconcile", "--data", data, "--json"]);
    assert.equal(json.code, 1);
    const error = JSON.parse(json.stderr) as { error: { code: string } };
    assert.equal(error.error.code, "E_LEDGER_MISMATCH");
    const report = JSON.parse(json.stdout) as { mismatches: unknown[] };
    assert.deepEqual(report.mismatches, [{ uid: "玩家一", balance: 10_000, ledgerSum: 500 }]);
  });
});
