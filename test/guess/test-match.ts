/**
 * A feed match for guessing's SQL tests: two teams a and b, an option on
 * each, betting locked at `lockAt` (default 2026-12-10 11:55 UTC) and the
 * start ten minutes later.
 */
import type { FeedMatch } from "../../src/guess/index.js";

export function testMatch(
  externalId: string,
  options: { lockAt?: number; odds?: { a: number; b: number } } = {},
): FeedMatch {
  const lockAt = options.lockAt ?? Date.parse("2026-12-10T11:55:00Z");
  const odds = options.odds ?? { a: 1850, b: 2333 };
  return {
    externalId,
    type: "lol",
    title: `Match ${externalId}`,
    teams: [
      { id: "a", name: "Team A" },
      { id: "b", name: "Team B" },
    ],
    startsAt: lockAt + 600_000,
    lockAt,
    options: [
      { id: "a", label: "A wins", odds: odds.a },
      { id: "b", label: "B wins", odds: odds.b },
    ],
  };
}
