/**
 * Settlement as `serve` runs it (docs/guess.md, "Settlement"): a result, a
 * no-result or a cancel enqueues the match on guess.queue's backend; a
 * consumer runs its batches (src/guess/settlement.ts), pushes each bettor
 * the outcome after each batch commits, and tells the match's followers of
 * each state it reaches. At start every match still in 3, 4, 6 or 7 is
 * enqueued again — one whose enqueue a crash prevented, right after the
 * admin's action committed — and a message redelivered after a crash
 * carries on from the first bet not yet moved.
 */
import { GamedockError, type Config, type Logger } from "../core/index.js";
import type { Database } from "../db/index.js";
import {
  GUESS_PUSH,
  SETTLING_STATES,
  type Matches,
  type OutcomeNotifier,
  type Settlement,
} from "../guess/index.js";
import {
  backoffDelay,
  canRetry,
  type Consumer,
  type Queue,
  type QueueBackend,
  type RetryPolicy,
} from "../queue/index.js";
import type { Pusher } from "../realtime/index.js";

export const SETTLEMENT_QUEUE = "guess-settle";

interface SettleMessage {
  matchId: string;
}

/** A database that went away is retried for about ten minutes, then the message is dead-lettered. */
const RETRY: RetryPolicy = { maxAttempts: 12, initialMs: 1000, factor: 2, maxMs: 60_000 };

export interface SettlementRunner {
  enqueue(matchId: string): Promise<void>;
  close(): Promise<void>;
}

export interface SettlementDeps {
  config: Config;
  database: Database;
  backends: ReadonlyMap<string, QueueBackend>;
  pusher: Pusher;
  matches: Matches;
  settlement: Settlement;
  log: Logger;
}

export async function startSettlement(deps: SettlementDeps): Promise<SettlementRunner> {
  const { config, database, matches, settlement, pusher, log } = deps;
  const backend = deps.backends.get(config.guess.queue);
  if (!backend) {
    throw new GamedockError(
      "E_CONFIG",
      `guess.queue ${JSON.stringify(config.guess.queue)} is not one of queues: ${[...deps.backends.keys()].join(", ")}`,
      { field: "guess.queue" },
    );
  }
  const queue: Queue<SettleMessage> = backend.open(SETTLEMENT_QUEUE);
  const notify: OutcomeNotifier = async (uid, matchId, bets, balance) => {
    await pusher.push({ uid }, GUESS_PUSH.betsSettled, { matchId, bets, balance });
  };
  const consumer: Consumer = queue.consume(
    async (delivery) => {
      const { matchId } = delivery.payload;
      try {
        const state = await settlement.run(matchId, notify, () => matches.announce(matchId));
        log.info({ event: "settled", matchId, state }, "match settlement done");
        await delivery.ack();
      } catch (err) {
        if (err instanceof GamedockError && err.code === "E_NOT_FOUND") {
          await delivery.deadLetter(`no match ${matchId}`);
          return;
        }
        if (!canRetry(delivery.attempt, RETRY)) {
          log.error(
            { event: "settle-failed", matchId, err },
            "settlement gave up: see the dead letters",
          );
          await delivery.deadLetter(err instanceof Error ? err.message : String(err));
          return;
        }
        log.warn({ event: "settle-retry", matchId, err }, "settlement failed; retrying");
        await delivery.retry({ delayMs: backoffDelay(delivery.attempt, RETRY, { jitter: 0.2 }) });
      }
    },
    { concurrency: 2 },
  );
  const enqueue = (matchId: string): Promise<void> => queue.enqueue({ matchId });
  const unfinished = await database.db
    .selectFrom("guess_matches")
    .select("id")
    .where("state", "in", SETTLING_STATES)
    .execute();
  for (const { id } of unfinished) await enqueue(id);
  if (unfinished.length > 0) {
    log.info({ event: "settle-resumed", matches: unfinished.length }, "settlement resumed");
  }
  return { enqueue, close: () => consumer.close() };
}
