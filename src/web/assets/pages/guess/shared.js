// What the guessing admin views share: the admin API's base path and page
// size, links to a match and a wallet, the names of actions (a match's
// buttons and the audit log) and the previous / next pager over the API's
// cursor-paged lists. No view of its own, no request of its own.
import { html } from "/web/vendor/preact-htm.js";
import { t } from "/web/i18n.js";

export const ADMIN = "/api/v1/guess/admin";
export const LIMIT = 50;
export const matchLink = (id) => `#/guess/${encodeURIComponent(id)}`;
export const walletLink = (uid) => `#/guess/wallets/${encodeURIComponent(uid)}`;

/** What the audit may name (admin actions, the system's, imports, odds, wallets). */
const AUDIT_ACTIONS = new Set([
  "approve",
  "open",
  "close",
  "start",
  "result",
  "noResult",
  "cancel",
  "archive",
  "lock",
  "settled",
  "paid",
  "refunded",
  "import",
  "odds",
  "adjust",
]);

export const actionLabel = (action) =>
  AUDIT_ACTIONS.has(action) ? t(`guessAct_${action}`) : String(action);

/** Previous / next over a cursor-paged list: `cursors` is the stack of pages seen. */
export function CursorPager({ cursors, setCursors, nextCursor }) {
  if (cursors.length <= 1 && !nextCursor) return null;
  return html`<div class="pager">
    ${
      cursors.length > 1 &&
      html`<button class="link" name="previous" onClick=${() => setCursors(cursors.slice(0, -1))}>
        ${t("previous")}
      </button>`
    }
    ${
      nextCursor &&
      html`<button class="link" name="next" onClick=${() => setCursors([...cursors, nextCursor])}>
        ${t("next")}
      </button>`
    }
  </div>`;
}
