/**
 * Guessing's msgIds on the realtime connection (docs/guess.md, "Over the
 * realtime connection"): requests a client sends, and pushes it gets. The
 * module owns 2000–2999.
 */
export const GUESS_RANGE = [2000, 2999] as const;

/** Requests: the client sends them with `request(msgId, body)`. */
export const GUESS_REQUEST = {
  listMatches: 2001,
  match: 2002,
  follow: 2003,
  unfollow: 2004,
  placeBet: 2005,
  myBets: 2006,
  wallet: 2007,
  reserve: 2008,
  unreserve: 2009,
  topUp: 2010,
} as const;

/** Pushes: persisted, so a user who was away gets them on reconnect. */
export const GUESS_PUSH = {
  /** To a match's followers: its state, odds or facts changed ({match}). */
  matchChanged: 2100,
  /** To a bettor: bets of theirs were settled ({matchId, bets, balance}). */
  betsSettled: 2101,
  /** To those who reserved a match: it starts soon ({match}). */
  startsSoon: 2102,
  /** To a user whose top-up order was paid ({orderId, amount, balance}). */
  balanceChanged: 2103,
} as const;

/** The application group of a match's followers. */
export const followGroup = (matchId: string): string => `guess:match:${matchId}`;
