// Guessing matches: the list by state (GET /api/v1/guess/admin/matches,
// cursor-paged), and one match (GET …/matches/<id>, polled) with its options,
// odds, bets and stakes (GET …/stats/matches/<id>), settlement progress and
// only the actions its state allows (the API's `actions`, each a
// POST …/matches/<id>/<action> with an optional reason; a result names the
// winning option).
import { html, useRef, useState } from "/web/vendor/preact-htm.js";
import { api, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import { ErrorLine, Field, Progress, Table, formatTime, usePoll } from "/web/ui.js";
import { ADMIN, CursorPager, LIMIT, actionLabel, matchLink } from "/web/pages/guess/shared.js";

const matchPath = (id) => `${ADMIN}/matches/${encodeURIComponent(id)}`;

/** The list filter: the API's `status` ("" is every match). */
const LISTS = [
  { status: "", label: "all" },
  { status: "pending", label: "guessListPending" },
  { status: "doing", label: "guessListDoing" },
  { status: "finished", label: "guessListFinished" },
];

/** The API's action names → the word in its URL. */
const ACTION_URL = { noResult: "no-result" };
const BET_STATUSES = ["placed", "won", "lost", "paid", "refunded"];

/** A badge colour (style.css's s-* classes) for each state. */
const STATE_TONE = {
  0: "queued",
  1: "partial",
  2: "running",
  3: "running",
  4: "done",
  5: "closed",
  6: "cancelled",
  7: "cancelled",
  8: "done",
  9: "done",
};

const stateLabel = (state) => (state in STATE_TONE ? t(`guessState${state}`) : String(state));
/** Decimal odds from the API's odds × 1000. */
const formatOdds = (odds) => (odds / 1000).toFixed(3);

function StateBadge({ state }) {
  return html`<span class=${`badge s-${STATE_TONE[state] ?? "unknown"}`} data-state=${state}
    >${stateLabel(state)}</span
  >`;
}

export function MatchList() {
  const [status, setStatus] = useState("");
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const { data, error } = usePoll(
    () => api(withQuery(`${ADMIN}/matches`, { status, cursor, limit: LIMIT })),
    5000,
    [status, cursor],
  );
  const columns = [
    {
      key: "title",
      label: t("guessMatchTitle"),
      className: "wrap",
      render: (m) => html`<a href=${matchLink(m.id)}>${m.title}</a>`,
    },
    { key: "type", label: t("guessType") },
    { key: "state", label: t("state"), render: (m) => html`<${StateBadge} state=${m.state} />` },
    {
      key: "approved",
      label: t("guessApproved"),
      render: (m) => t(m.approved ? "guessYes" : "guessNo"),
    },
    { key: "startsAt", label: t("guessStartsAt"), render: (m) => formatTime(m.startsAt) },
    { key: "lockAt", label: t("guessLockAt"), render: (m) => formatTime(m.lockAt) },
    { key: "updatedAt", label: t("updated", ""), render: (m) => formatTime(m.updatedAt) },
  ];
  return html`
    <div class="toolbar">
      <h2>${t("guessMatches")}</h2>
      <label class="inline"
        >${t("status")}
        <select
          name="status"
          value=${status}
          onChange=${(e) => {
            setStatus(e.currentTarget.value);
            setCursors([null]);
          }}
        >
          ${LISTS.map((l) => html`<option value=${l.status}>${t(l.label)}</option>`)}
        </select>
      </label>
    </div>
    <${ErrorLine} error=${error} />
    ${
      data &&
      html`<${Table}
          testId="matches"
          columns=${columns}
          rows=${data.matches}
          rowKey=${(m) => m.id}
        />
        <${CursorPager}
          cursors=${cursors}
          setCursors=${setCursors}
          nextCursor=${data.nextCursor}
        />`
    }
  `;
}

/**
 * The actions the API says the match allows now (`actions`), each with an
 * optional reason; a result also names the winning option. Approving an
 * approved match changes nothing, so it is not offered again.
 */
function Actions({ match, onChanged }) {
  const [chosen, setChosen] = useState(null);
  const [reason, setReason] = useState("");
  const [winner, setWinner] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const running = useRef(false); // a double click sends one request
  const offered = match.actions.filter((a) => !(a === "approve" && match.approved));
  const choose = (action) => {
    setChosen(action);
    setReason("");
    setWinner("");
    setError(null);
  };
  const submit = async (event) => {
    event.preventDefault();
    if (running.current) return;
    if (chosen === "result" && winner === "") {
      setError({ message: t("guessChooseWinner") });
      return;
    }
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      await api(`${matchPath(match.id)}/${ACTION_URL[chosen] ?? chosen}`, {
        method: "POST",
        body: {
          reason: reason.trim() === "" ? undefined : reason.trim(),
          result: chosen === "result" ? winner : undefined,
        },
      });
    } catch (err) {
      // A 409 (someone moved the match meanwhile) says why; the match is read again.
      setError(err);
    } finally {
      running.current = false;
      setBusy(false);
      setChosen(null);
      onChanged();
    }
  };
  return html`<div data-actions>
    <h2>${t("guessActions")}</h2>
    ${offered.length === 0 && html`<p class="hint" data-no-actions>${t("guessNoActions")}</p>`}
    <div class="actions">
      ${offered.map(
        (action) =>
          html`<button
            class=${`small${action === "cancel" ? " danger" : ""}`}
            name=${`act-${ACTION_URL[action] ?? action}`}
            data-act=${action}
            aria-pressed=${chosen === action}
            onClick=${() => choose(action)}
          >
            ${actionLabel(action)}
          </button>`,
      )}
    </div>
    ${
      chosen &&
      html`<form class="form action-form" data-action-form=${chosen} onSubmit=${submit}>
        ${
          chosen === "result" &&
          html`<${Field} label=${t("guessWinningOption")}>
            <select name="result" value=${winner} onChange=${(e) => setWinner(e.currentTarget.value)}>
              <option value="">${t("choose")}</option>
              ${match.options.map((o) => html`<option value=${o.id}>${o.label} (${o.id})</option>`)}
            </select>
          </${Field}>`
        }
        <${Field} label=${t("guessReasonOptional")}>
          <input name="reason" maxlength="500" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} />
        </${Field}>
        <div class="wide submit">
          <button type="submit" name="confirm" class=${chosen === "cancel" ? "danger" : ""} disabled=${busy}>
            ${t("guessConfirm", actionLabel(chosen))}
          </button>
          <button type="button" class="link" name="dismiss" onClick=${() => choose(null)}>${t("cancel")}</button>
        </div>
      </form>`
    }
    <${ErrorLine} error=${error} />
  </div>`;
}

function Settlement({ match }) {
  const s = match.settlement;
  if (!s) return null;
  const phase = {
    3: ["guessPhaseDeciding", false],
    4: ["guessPhasePaying", false],
    6: ["guessPhaseRefunding", false],
    7: ["guessPhaseRefunding", false],
    9: ["guessPaidDone", true],
    8: ["guessRefundDone", true],
    5: [match.result === null ? "guessRefundDone" : "guessPaidDone", true],
  }[match.state];
  return html`<h2>${t("guessSettlement")}</h2>
    <dl class="facts" data-settlement>
      ${
        match.state >= 3 &&
        html`<dt>${t("progress")}</dt>
          <dd data-progress>
            <${Progress} done=${s.settled} total=${s.total} />${" "}
            <span>${t("guessSettledOf", s.settled, s.total, s.credited)}</span>
          </dd>`
      }
      <dt>${t("guessByStatus")}</dt>
      <dd data-by-status>
        ${BET_STATUSES.map((status) => `${t(`guessBet_${status}`)} ${s.byStatus[status] ?? 0}`).join(" · ")}
      </dd>
    </dl>
    ${
      phase &&
      html`<p class=${phase[1] ? "ok-note" : "hint"} data-phase=${phase[1] ? "done" : "running"}>
        ${t(phase[0])}
      </p>`
    }`;
}

export function MatchDetail({ id }) {
  const match = usePoll(() => api(matchPath(id)), 2000, [id]);
  const m = match.data;
  // Read again whenever the match moves (bets stop, payouts land).
  const stats = usePoll(() => api(`${ADMIN}/stats/matches/${encodeURIComponent(id)}`), 5000, [
    id,
    m?.state,
  ]);
  if (!m)
    return html`<p><a href="#/guess">← ${t("guessMatches")}</a></p>
      <${ErrorLine} error=${match.error} />
      <p class="loading">…</p>`;
  const byOption = new Map((stats.data?.byOption ?? []).map((o) => [o.optionId, o]));
  const optionColumns = [
    { key: "id", label: "id", className: "wrap" },
    { key: "label", label: t("guessOption"), className: "wrap" },
    { key: "odds", label: t("guessOdds"), render: (o) => formatOdds(o.odds) },
    { key: "bets", label: t("guessBets"), render: (o) => byOption.get(o.id)?.bets ?? 0 },
    { key: "stakes", label: t("guessStakes"), render: (o) => byOption.get(o.id)?.stakes ?? 0 },
    {
      key: "result",
      label: t("guessResult"),
      render: (o) =>
        m.result === o.id ? html`<span class="badge s-done">${t("guessWinner")}</span>` : "",
    },
  ];
  const winner = m.options.find((o) => o.id === m.result);
  return html`
    <p><a href="#/guess">← ${t("guessMatches")}</a></p>
    <div class="toolbar">
      <h2 class="wrap" data-title>${m.title}</h2>
      <${StateBadge} state=${m.state} />
    </div>
    <${ErrorLine} error=${match.error} />
    <dl class="facts" data-match=${m.id}>
      <dt>id</dt>
      <dd>${m.id}</dd>
      <dt>${t("guessExternalId")}</dt>
      <dd>${m.externalId}</dd>
      <dt>${t("guessType")}</dt>
      <dd>${m.type}</dd>
      <dt>${t("guessApproved")}</dt>
      <dd data-approved=${m.approved}>${t(m.approved ? "guessYes" : "guessNo")}</dd>
      <dt>${t("guessTeams")}</dt>
      <dd>${m.teams.map((team) => team.name).join(" · ")}</dd>
      <dt>${t("guessStartsAt")}</dt>
      <dd>${formatTime(m.startsAt)}</dd>
      <dt>${t("guessLockAt")}</dt>
      <dd>${formatTime(m.lockAt)}</dd>
      <dt>${t("guessResult")}</dt>
      <dd data-result=${m.result ?? ""}>${winner ? `${winner.label} (${winner.id})` : "–"}</dd>
      <dt>${t("created")}</dt>
      <dd>${formatTime(m.createdAt)}</dd>
      <dt>${t("updated", "")}</dt>
      <dd>${formatTime(m.updatedAt)}</dd>
    </dl>
    <${Actions} match=${m} onChanged=${match.reload} />
    <h2>${t("guessOptions")}</h2>
    <${Table} testId="options" columns=${optionColumns} rows=${m.options} rowKey=${(o) => o.id} />
    ${
      stats.data &&
      html`<dl class="facts" data-match-stats>
        <dt>${t("guessBets")}</dt>
        <dd data-stat="bets">${stats.data.bets}</dd>
        <dt>${t("guessStakes")}</dt>
        <dd data-stat="stakes">${stats.data.stakes}</dd>
        <dt>${t("users")}</dt>
        <dd data-stat="users">${stats.data.users}</dd>
        <dt>${t("guessPayouts")}</dt>
        <dd data-stat="payouts">${stats.data.payouts}</dd>
        <dt>${t("guessRefunds")}</dt>
        <dd data-stat="refunds">${stats.data.refunds}</dd>
      </dl>`
    }
    <${ErrorLine} error=${stats.error} />
    <${Settlement} match=${m} />
    <p><a href=${`#/guess/audit/${encodeURIComponent(m.id)}`}>${t("guessMatchAudit")} →</a></p>
  `;
}
