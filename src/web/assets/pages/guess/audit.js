// Guessing audit log: who did what to a match or a wallet, when, why and
// what changed (GET /api/v1/guess/admin/audit, cursor-paged, optionally for
// one match id).
import { html, useState } from "/web/vendor/preact-htm.js";
import { api, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import { ErrorLine, Table, formatTime, usePoll } from "/web/ui.js";
import {
  ADMIN,
  CursorPager,
  LIMIT,
  actionLabel,
  matchLink,
  walletLink,
} from "/web/pages/guess/shared.js";

const NEW_MATCH_FIELDS = ["title", "type", "starts_at", "state"];

/**
 * What an audit row changed: the fields whose values differ, "field: before →
 * after" (a new match's fields as they are). Times (…_at, ms) read as times.
 */
function change(before, after) {
  const show = (key, v) => {
    if (v === undefined || v === null) return "–";
    if (key.endsWith("_at") && typeof v === "number") return formatTime(new Date(v).toISOString());
    const text = typeof v === "string" ? v : JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  };
  const fields = (x) => (x && typeof x === "object" ? x : {});
  const b = fields(before);
  const a = fields(after);
  if (before === null || before === undefined) {
    // A new match: what names it (the whole feed entry is in the API's `after`).
    const named = NEW_MATCH_FIELDS.filter((k) => k in a);
    return (
      (named.length > 0 ? named : Object.keys(a)).map((k) => `${k}: ${show(k, a[k])}`).join("; ") ||
      "–"
    );
  }
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]),
  );
  return keys.map((k) => `${k}: ${show(k, b[k])} → ${show(k, a[k])}`).join("; ") || "–";
}

export function Audit({ matchId }) {
  const [filter, setFilter] = useState(matchId ?? "");
  const [applied, setApplied] = useState(matchId ?? "");
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const audit = usePoll(
    () => api(withQuery(`${ADMIN}/audit`, { matchId: applied, cursor, limit: LIMIT })),
    5000,
    [applied, cursor],
  );
  const submit = (event) => {
    event.preventDefault();
    setApplied(filter.trim());
    setCursors([null]);
  };
  const columns = [
    { key: "at", label: t("guessTime"), render: (e) => formatTime(e.at) },
    { key: "actor", label: t("guessActor"), className: "wrap" },
    { key: "action", label: t("guessAction"), render: (e) => actionLabel(e.action) },
    {
      key: "matchId",
      label: t("guessMatch"),
      className: "wrap",
      render: (e) => (e.matchId ? html`<a href=${matchLink(e.matchId)}>${e.matchId}</a>` : "–"),
    },
    {
      key: "uid",
      label: "uid",
      className: "wrap",
      render: (e) => (e.uid ? html`<a href=${walletLink(e.uid)}>${e.uid}</a>` : "–"),
    },
    {
      key: "change",
      label: t("guessChange"),
      className: "wrap",
      render: (e) => change(e.before, e.after),
    },
    { key: "reason", label: t("guessReason"), className: "wrap", render: (e) => e.reason ?? "–" },
  ];
  return html`
    <form class="toolbar" data-audit-filter onSubmit=${submit}>
      <h2>${t("guessAudit")}</h2>
      <label class="inline"
        >${t("guessMatchId")}
        <input name="matchId" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} />
      </label>
      <button type="submit" name="filter">${t("filter")}</button>
    </form>
    <${ErrorLine} error=${audit.error} />
    ${
      audit.data &&
      html`<${Table}
          testId="audit"
          columns=${columns}
          rows=${audit.data.entries}
          rowKey=${(e) => e.id}
        />
        <${CursorPager}
          cursors=${cursors}
          setCursors=${setCursors}
          nextCursor=${audit.data.nextCursor}
        />`
    }
  `;
}
