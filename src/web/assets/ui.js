// Pieces every page uses: polling, tables that scroll inside themselves on a
// phone, state badges, buttons that show their work, formatting. Every value
// goes through htm as text (preact escapes it), never as HTML.
import { html, useCallback, useEffect, useRef, useState } from "/web/vendor/preact-htm.js";
import { t } from "/web/i18n.js";

/**
 * Calls `load` now, whenever `deps` change, and every `ms` (while the page
 * shows); answers {data, error, reload}. `reload` always runs the latest
 * `load` (a callback kept by a child still sees the current filters), and
 * only the newest call's answer is shown.
 */
export function usePoll(load, ms, deps = []) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const latest = useRef(0);
  const loader = useRef(load);
  loader.current = load;
  const reload = useCallback(async () => {
    const call = ++latest.current;
    try {
      const next = await loader.current();
      if (call === latest.current) {
        setData(next);
        setError(null);
      }
    } catch (err) {
      if (call === latest.current) setError(err);
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!ms) return () => (latest.current += 1);
    const timer = setInterval(reload, ms);
    return () => {
      latest.current += 1;
      clearInterval(timer);
    };
  }, deps);
  return { data, error, reload };
}

/** An error as a line a person can act on: its code and message. */
export function ErrorLine({ error }) {
  if (!error) return null;
  const text = error.code ? `${error.code}: ${error.message}` : String(error.message ?? error);
  return html`<p class="error" role="alert">${text}</p>`;
}

/**
 * A table of `rows`; `columns` are {key, label, render?(row), className?}.
 * On a narrow screen it scrolls sideways inside its box, not the page.
 */
export function Table({ columns, rows, rowKey, empty, testId }) {
  return html`<div class="table-wrap">
    <table data-table=${testId}>
      <thead>
        <tr>
          ${columns.map((c) => html`<th class=${c.className ?? ""}>${c.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan=${columns.length} class="empty">${empty ?? t("nothing")}</td>
              </tr>`
            : rows.map(
                (row) =>
                  html`<tr key=${rowKey(row)} data-row=${rowKey(row)}>
                    ${columns.map(
                      (c) =>
                        html`<td class=${c.className ?? ""} data-col=${c.key}>
                          ${c.render ? c.render(row) : row[c.key]}
                        </td>`,
                    )}
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

export function Badge({ state }) {
  return html`<span class=${`badge s-${state}`}>${state}</span>`;
}

/** A button that runs `action`, is disabled while it runs, and shows its error. */
export function ActionButton({ label, action, className = "", name, disabled = false }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action">
    <button class=${className} name=${name} disabled=${busy || disabled} onClick=${run}>
      ${label}
    </button>
    ${error && html`<span class="error" role="alert">${error.code ?? ""} ${error.message}</span>`}
  </span>`;
}

/** A labelled form field with its error underneath. */
export function Field({ label, error, children, wide = false }) {
  return html`<label class=${`field${wide ? " wide" : ""}${error ? " invalid" : ""}`}>
    <span class="label">${label}</span>
    ${children} ${error && html`<span class="field-error" role="alert">${error}</span>`}
  </label>`;
}

export function Progress({ done, total }) {
  const percent = total > 0 ? Math.round((done / total) * 100) : 0;
  return html`<span class="progress" title=${`${done} / ${total}`}>
    <span class="bar"><span class="fill" style=${`width:${percent}%`}></span></span>
    <span class="pct">${percent}%</span>
  </span>`;
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

/** Milliseconds between two ISO times, as "1.2 s". */
export function formatSpan(fromIso, toIso) {
  if (!fromIso || !toIso) return "–";
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The first characters of a digest, the whole one on hover. */
export function Digest({ value }) {
  if (!value) return "–";
  return html`<code class="digest" title=${value}>${value.slice(0, 12)}…</code>`;
}

/** A status filter: "" is every status; a change also takes the list back to its first page. */
export function StatusFilter({ statuses, value, onChange }) {
  return html`<label class="inline"
    >${t("status")}
    <select name="status" value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
      <option value="">${t("all")}</option>
      ${statuses.map((s) => html`<option value=${s}>${s}</option>`)}
    </select>
  </label>`;
}

/** Previous / next over an offset-paged list. */
export function Pager({ offset, limit, total, onChange }) {
  if (total <= limit) return null;
  return html`<div class="pager">
    <button
      class="link"
      disabled=${offset === 0}
      onClick=${() => onChange(Math.max(0, offset - limit))}
    >
      ${t("previous")}
    </button>
    <span>${offset + 1}–${Math.min(offset + limit, total)} / ${total}</span>
    <button
      class="link"
      disabled=${offset + limit >= total}
      onClick=${() => onChange(offset + limit)}
    >
      ${t("next")}
    </button>
  </div>`;
}
