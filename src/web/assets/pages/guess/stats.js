// Guessing statistics: bets, stakes, active users, payouts and refunds per
// day over a date range (GET /api/v1/guess/admin/stats/daily?from&to, days in
// the server's time zone), newest first.
import { html, useState } from "/web/vendor/preact-htm.js";
import { api, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import { ErrorLine, Table, usePoll } from "/web/ui.js";
import { ADMIN } from "/web/pages/guess/shared.js";

export function Stats() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [range, setRange] = useState({ from: "", to: "" });
  const stats = usePoll(() => api(withQuery(`${ADMIN}/stats/daily`, range)), 10000, [
    range.from,
    range.to,
  ]);
  const columns = [
    { key: "day", label: t("guessDay") },
    { key: "bets", label: t("guessBets") },
    { key: "stakes", label: t("guessStakes") },
    { key: "activeUsers", label: t("guessActiveUsers") },
    { key: "payouts", label: t("guessPayouts") },
    { key: "refunds", label: t("guessRefunds") },
  ];
  const submit = (event) => {
    event.preventDefault();
    setRange({ from, to });
  };
  return html`
    <form class="toolbar" data-stats-range onSubmit=${submit}>
      <h2>${t("guessStats")}</h2>
      <label class="inline"
        >${t("guessFrom")}
        <input
          type="date"
          name="from"
          value=${from}
          onInput=${(e) => setFrom(e.currentTarget.value)}
        />
      </label>
      <label class="inline"
        >${t("guessTo")}
        <input type="date" name="to" value=${to} onInput=${(e) => setTo(e.currentTarget.value)} />
      </label>
      <button type="submit" name="show">${t("guessShow")}</button>
    </form>
    <${ErrorLine} error=${stats.error} />
    ${
      stats.data &&
      html`<p class="hint">${t("guessDaysIn", stats.data.timeZone)}</p>
        <${Table}
          testId="daily"
          columns=${columns}
          rows=${[...stats.data.days].reverse()}
          rowKey=${(d) => d.day}
        />`
    }
  `;
}
