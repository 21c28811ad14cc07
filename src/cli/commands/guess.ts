/**
 * `gamedock guess reconcile [--json]`: checks that every wallet's balance
 * equals the sum of its ledger (and that no ledger entry lacks a wallet), on
 * the database the configuration names. Exit 0 when they all agree; 1 with
 * E_LEDGER_MISMATCH and the wallets that do not (nothing is repaired).
 */
import type { Command } from "commander";
import { GamedockError } from "../../core/index.js";
import { count, printJson } from "../output.js";
import { configFlags, effectiveConfig, type ProcessOptions } from "./serve.js";

interface ReconcileOptions extends ProcessOptions {
  json?: boolean;
}

export function register(program: Command): void {
  const guess = program
    .command("guess")
    .summary("match guessing: operator commands (docs/guess.md)")
    .description("Operator commands of match guessing (wallets, ledger). See docs/guess.md.");
  configFlags(
    guess
      .command("reconcile")
      .summary("check every wallet balance against the sum of its ledger")
      .description(
        "Compare every wallet's balance with the sum of its ledger entries, on the database the configuration names (--config, GAMEDOCK_* variables, --data). Exit 0 when every wallet agrees; otherwise exit 1 with E_LEDGER_MISMATCH, listing up to 1000 wallets (balance and ledger sum; a ledger without a wallet shows balance null). Nothing is changed.",
      )
      .option("--json", "print {wallets, entries, mismatches} as JSON"),
  ).action(async (opts: ReconcileOptions) => {
    const config = await effectiveConfig(opts);
    const { reconcileWallets } = await import("../../server/index.js");
    const result = await reconcileWallets(config);
    if (opts.json === true) {
      printJson(result);
    } else {
      process.stdout.write(
        `${count(result.wallets, "wallet")}, ${count(result.entries, "ledger entry", "ledger entries")}: ${result.mismatches.length === 0 ? "every balance equals its ledger" : count(result.mismatches.length, "mismatch", "mismatches")}\n`,
      );
      for (const m of result.mismatches) {
        process.stdout.write(
          `  ${m.uid}: balance ${m.balance === null ? "(no wallet)" : m.balance}, ledger sum ${m.ledgerSum}\n`,
        );
      }
    }
    if (result.mismatches.length > 0) {
      throw new GamedockError(
        "E_LEDGER_MISMATCH",
        `${count(result.mismatches.length, "wallet")} do not equal the sum of their ledger`,
      );
    }
  });
}
