// Overview: the health of each part and live charts, from GET /api/v1/summary
// polled every 2 s (rates are the difference of two samples' totals; a
// counter that went back — a restarted process — draws 0, not a negative).
import { html, useEffect, useState } from "/web/vendor/preact-htm.js";
import { api } from "/web/api.js";
import { LiveChart, formatNumber } from "/web/chart.js";
import { t } from "/web/i18n.js";

const POLL_MS = 2000;
const KEEP = 90;

const sum = (counts, keys) => keys.reduce((n, key) => n + (counts[key] ?? 0), 0);
const total = (counts) => Object.values(counts).reduce((n, v) => n + v, 0);

function partName(part) {
  if (part.startsWith("queue:")) return t("part_queue", part.slice("queue:".length));
  if (part.startsWith("target:")) return t("part_target", part.slice("target:".length));
  return t(`part_${part}`);
}

/** The series the charts draw, from two consecutive summaries. */
function points(previous, summary) {
  const at = Date.parse(summary.at) / 1000;
  const c = summary.counters;
  const rate = (pick) => {
    if (!previous) return 0;
    const seconds = at - Date.parse(previous.at) / 1000;
    return seconds > 0 ? Math.max(0, (pick(c) - pick(previous.counters)) / seconds) : 0;
  };
  const MiB = 1024 * 1024;
  return {
    at,
    channels: rate((x) => sum(x.packChannels, ["done", "failed"])),
    uploads: rate((x) => x.files.uploadedBytes / MiB),
    downloads: rate((x) => x.files.downloadedBytes / MiB),
    tasks: rate((x) => sum(x.tasks, ["done", "failed", "cancelled", "timed_out"])),
    connections: c.realtime.connections,
    messages: rate((x) => x.realtime.messagesIn + x.realtime.messagesOut),
  };
}

export function Overview() {
  const [summary, setSummary] = useState(null);
  const [series, setSeries] = useState([]);
  const [error, setError] = useState("");
  useEffect(() => {
    let previous = null;
    let stopped = false;
    const poll = async () => {
      try {
        const next = await api("/api/v1/summary");
        if (stopped) return;
        const point = points(previous, next);
        previous = next;
        setSummary(next);
        setSeries((s) => [...s.slice(-(KEEP - 1)), point]);
        setError("");
      } catch (err) {
        if (!stopped) setError(t("unreachable", err.message));
      }
    };
    void poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  if (!summary)
    return html`<p class="loading">…</p>
      ${error && html`<p class="error">${error}</p>`}`;
  const line = (key) => series.map((p) => ({ t: p.at, v: p[key] }));
  const c = summary.counters;
  return html`
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <h2>${t("parts")}</h2>
    <ul class="parts">
      ${summary.parts.map(
        (p) =>
          html`<li class=${`part ${p.state}`} data-part=${p.part}>
            <span class="name">${partName(p.part)}</span>
            <span class="state">${t(`state_${p.state}`)}</span>
            <span class="detail">${p.detail}</span>
          </li>`,
      )}
    </ul>
    <h2>${t("charts")}</h2>
    <div class="charts">
      <${LiveChart} title=${t("chartChannels")} samples=${line("channels")} />
      <${LiveChart} title=${t("chartUploads")} samples=${line("uploads")} />
      <${LiveChart} title=${t("chartDownloads")} samples=${line("downloads")} />
      <${LiveChart} title=${t("chartTasks")} samples=${line("tasks")} />
      <${LiveChart} title=${t("chartConnections")} samples=${line("connections")} />
      <${LiveChart} title=${t("chartMessages")} samples=${line("messages")} />
    </div>
    <h2>${t("totals")}</h2>
    <dl class="totals">
      <dt>${t("packJobs")}</dt>
      <dd data-total="packJobs">${formatNumber(total(c.packJobs))}</dd>
      <dt>${t("files")}</dt>
      <dd data-total="files">${formatNumber(c.files.count)}</dd>
      <dt>${t("tasks")}</dt>
      <dd data-total="tasks">${formatNumber(total(c.tasks))}</dd>
    </dl>
    <p class="updated">${t("updated", new Date(summary.at).toLocaleTimeString())}</p>
  `;
}
