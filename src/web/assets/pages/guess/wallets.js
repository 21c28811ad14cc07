// Guessing wallets: look a uid up, its balance and ledger
// (GET /api/v1/guess/admin/wallets/<uid>, cursor-paged) and a signed
// adjustment with a required reason (POST …/wallets/<uid>/adjust, one
// requestId per intent).
import { html, useRef, useState } from "/web/vendor/preact-htm.js";
import { api, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import { ErrorLine, Field, Table, formatTime, usePoll } from "/web/ui.js";
import { ADMIN, CursorPager, LIMIT, matchLink, walletLink } from "/web/pages/guess/shared.js";

const LEDGER_KINDS = new Set(["topup", "stake", "payout", "refund", "adjust"]);
const kindLabel = (kind) => (LEDGER_KINDS.has(kind) ? t(`guessKind_${kind}`) : String(kind));
const yuan = (fen) => (fen / 100).toFixed(2);

/** An id for one adjustment: a repeat of the request (a double click, a retry) sends the same. */
function newRequestId() {
  const bytes = new Uint8Array(8);
  window.crypto.getRandomValues(bytes);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `dash-${Date.now().toString(36)}-${hex}`;
}

/** A signed adjustment with a required reason; one requestId per intent, so a repeat moves nothing twice. */
function Adjust({ uid, onDone }) {
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [requestId, setRequestId] = useState(newRequestId);
  const [problems, setProblems] = useState({});
  const [error, setError] = useState(null);
  const [answer, setAnswer] = useState(null);
  const [busy, setBusy] = useState(false);
  const running = useRef(false);
  const edit = (set) => (e) => {
    set(e.currentTarget.value);
    setRequestId(newRequestId()); // new numbers or words: a new adjustment
    setAnswer(null);
  };
  const submit = async (event) => {
    event.preventDefault();
    if (running.current) return;
    const value = Number(amount.trim());
    const found = {};
    if (amount.trim() === "" || !Number.isSafeInteger(value) || value === 0) {
      found.amount = t("guessAmountInvalid");
    }
    if (reason.trim() === "" || reason.trim().length > 500) found.reason = t("guessReasonNeeded");
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    running.current = true;
    setBusy(true);
    setError(null);
    setAnswer(null);
    try {
      const done = await api(`${ADMIN}/wallets/${encodeURIComponent(uid)}/adjust`, {
        method: "POST",
        body: { amount: value, reason: reason.trim(), requestId },
      });
      setAnswer(done);
      setAmount("");
      setReason("");
      setRequestId(newRequestId());
      onDone();
    } catch (err) {
      // Kept: a retry of the same adjustment sends the same requestId.
      setError(err);
    } finally {
      running.current = false;
      setBusy(false);
    }
  };
  return html`<form class="form" data-adjust onSubmit=${submit}>
    <${Field} label=${t("guessAdjustAmount")} error=${problems.amount}>
      <input name="amount" inputmode="numeric" value=${amount} onInput=${edit(setAmount)} />
    </${Field}>
    <${Field} label=${t("guessReason")} error=${problems.reason}>
      <input name="reason" maxlength="500" value=${reason} onInput=${edit(setReason)} />
    </${Field}>
    <div class="wide submit">
      <button type="submit" name="adjust" disabled=${busy}>${t("guessAdjustApply")}</button>
      ${
        answer &&
        html`<span class="ok-note" data-adjusted=${answer.applied}>
          ${t(answer.applied ? "guessAdjusted" : "guessAdjustRepeat", answer.balance)}
        </span>`
      }
    </div>
    <${ErrorLine} error=${error} />
  </form>`;
}

function Wallet({ uid }) {
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const wallet = usePoll(
    () => api(withQuery(`${ADMIN}/wallets/${encodeURIComponent(uid)}`, { cursor, limit: LIMIT })),
    5000,
    [uid, cursor],
  );
  const columns = [
    { key: "at", label: t("guessTime"), render: (e) => formatTime(e.at) },
    { key: "kind", label: t("guessKind"), render: (e) => kindLabel(e.kind) },
    {
      key: "amount",
      label: t("guessAmount"),
      render: (e) => (e.amount > 0 ? `+${e.amount}` : e.amount),
    },
    { key: "balanceAfter", label: t("guessBalanceAfter") },
    {
      key: "matchId",
      label: t("guessMatch"),
      className: "wrap",
      render: (e) => (e.matchId ? html`<a href=${matchLink(e.matchId)}>${e.matchId}</a>` : "–"),
    },
    { key: "reason", label: t("guessReason"), className: "wrap", render: (e) => e.reason ?? "–" },
    { key: "cause", label: t("guessCause"), className: "wrap" },
  ];
  const data = wallet.data;
  return html`
    <h2 class="wrap">${t("guessWalletOf", uid)}</h2>
    <${ErrorLine} error=${wallet.error} />
    ${
      data &&
      html`<dl class="facts">
          <dt>${t("guessBalance")}</dt>
          <dd>
            <strong data-balance>${data.balance}</strong>
            ${" "}<span class="hint">${t("guessYuan", yuan(data.balance))}</span>
          </dd>
        </dl>
        <h2>${t("guessAdjust")}</h2>
        <${Adjust} uid=${uid} onDone=${wallet.reload} />
        <h2>${t("guessLedger")}</h2>
        <${Table}
          testId="ledger"
          columns=${columns}
          rows=${data.entries}
          rowKey=${(e) => e.cause}
        />
        <${CursorPager}
          cursors=${cursors}
          setCursors=${setCursors}
          nextCursor=${data.nextCursor}
        />`
    }
  `;
}

export function Wallets({ uid }) {
  const [value, setValue] = useState(uid ?? "");
  const submit = (event) => {
    event.preventDefault();
    if (value.trim() !== "") location.hash = walletLink(value.trim());
  };
  return html`
    <form class="toolbar" data-lookup onSubmit=${submit}>
      <label class="inline"
        >${t("guessUid")}
        <input name="uid" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      </label>
      <button type="submit" name="lookup" disabled=${value.trim() === ""}>
        ${t("guessLookUp")}
      </button>
    </form>
    ${uid && html`<${Wallet} uid=${uid} />`}
  `;
}
