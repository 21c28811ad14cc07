// Pack jobs: the list (status filter, progress), one job live over its
// event stream (channels with state, attempts, error, size, sha256, a
// download), cancel and retry, and the form that creates a job.
import { html, useEffect, useState } from "/web/vendor/preact-htm.js";
import { api, download, readEvents, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import {
  ActionButton,
  Badge,
  Digest,
  ErrorLine,
  Pager,
  StatusFilter,
  Progress,
  Table,
  formatBytes,
  formatTime,
  usePoll,
} from "/web/ui.js";
import { NewJob } from "/web/pages/pack-new.js";

const STATUSES = ["queued", "running", "done", "partial", "failed", "cancelled"];
const LIMIT = 50;
const FINISHED = new Set(["done", "partial", "failed", "cancelled"]);

const jobPath = (id) => `/api/v1/pack-jobs/${encodeURIComponent(id)}`;
const finishedCount = (counts) => (counts.done ?? 0) + (counts.failed ?? 0);

function JobList() {
  const [status, setStatus] = useState("");
  const [offset, setOffset] = useState(0);
  const { data, error } = usePoll(
    () => api(withQuery("/api/v1/pack-jobs", { status, limit: LIMIT, offset })),
    3000,
    [status, offset],
  );
  const columns = [
    {
      key: "id",
      label: t("job"),
      render: (job) => html`<a href=${`#/packs/${encodeURIComponent(job.id)}`}>${job.id}</a>`,
    },
    { key: "status", label: t("status"), render: (job) => html`<${Badge} state=${job.status} />` },
    { key: "apk", label: t("mother"), className: "wrap" },
    {
      key: "progress",
      label: t("progress"),
      render: (job) =>
        html`<${Progress} done=${finishedCount(job.counts)} total=${job.counts.total} />`,
    },
    { key: "createdAt", label: t("created"), render: (job) => formatTime(job.createdAt) },
  ];
  return html`
    <div class="toolbar">
      <h2>${t("packJobs")}</h2>
      <${StatusFilter}
        statuses=${STATUSES}
        value=${status}
        onChange=${(value) => {
          setStatus(value);
          setOffset(0);
        }}
      />
      <a class="button" href="#/packs/new">${t("newJob")}</a>
    </div>
    <${ErrorLine} error=${error} />
    ${
      data &&
      html`<${Table} testId="jobs" columns=${columns} rows=${data.jobs} rowKey=${(j) => j.id} />
        <${Pager} offset=${offset} limit=${LIMIT} total=${data.total} onChange=${setOffset} />`
    }
  `;
}

/** A job: its first page of channels from GET, then live from the event stream. */
function JobDetail({ id }) {
  const [job, setJob] = useState(null);
  const [channels, setChannels] = useState([]);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    const stop = new AbortController();
    const apply = (view) => {
      setJob(view);
      setChannels(view.channels);
      setNext(view.nextCursor);
    };
    (async () => {
      const view = await api(jobPath(id));
      apply(view);
      if (FINISHED.has(view.status)) return;
      await readEvents(withQuery(`${jobPath(id)}/events`, { since: view.seq }), {
        signal: stop.signal,
        onEvent: (type, data) => {
          if (type === "summary") setJob((old) => ({ ...old, ...data }));
          else if (type === "channel") {
            setChannels((list) => {
              const at = list.findIndex((c) => c.channel === data.channel);
              if (at < 0) return list; // on a page not loaded yet
              const copy = [...list];
              copy[at] = data;
              return copy;
            });
          } else if (type === "end") {
            // The last word: read the job once more for its final counts.
            void api(jobPath(id)).then(apply, setError);
          }
        },
      });
    })().catch((err) => {
      if (!stop.signal.aborted) setError(err);
    });
    return () => stop.abort();
  }, [id, round]);
  if (!job)
    return html`<${ErrorLine} error=${error} />
      <p class="loading">…</p>`;
  const more = async () => {
    const page = await api(withQuery(jobPath(id), { cursor: next }));
    setChannels((list) => [...list, ...page.channels]);
    setNext(page.nextCursor);
  };
  const act = (what) => async () => {
    await api(`${jobPath(id)}/${what}`, { method: "POST" });
    setRound((r) => r + 1);
  };
  const columns = [
    { key: "channel", label: t("channel"), className: "wrap" },
    { key: "state", label: t("state"), render: (c) => html`<${Badge} state=${c.state} />` },
    { key: "attempts", label: t("attempts") },
    {
      key: "error",
      label: t("error"),
      className: "wrap",
      render: (c) => (c.error ? `${c.error.code}: ${c.error.message}` : ""),
    },
    { key: "size", label: t("size"), render: (c) => (c.output ? formatBytes(c.output.size) : "–") },
    {
      key: "sha256",
      label: "sha256",
      render: (c) => html`<${Digest} value=${c.output?.sha256} />`,
    },
    {
      key: "download",
      label: "",
      render: (c) =>
        c.output &&
        html`<${ActionButton}
          className="small"
          name="download"
          label=${t("download")}
          action=${() => downloadChild(id, c.channel)}
        />`,
    },
  ];
  const counts = job.counts;
  return html`
    <p><a href="#/packs">← ${t("packJobs")}</a></p>
    <div class="toolbar">
      <h2 class="wrap">${t("job")} ${job.id}</h2>
      <${Badge} state=${job.status} />
      ${
        !FINISHED.has(job.status) &&
        html`<${ActionButton}
          name="cancel"
          className="danger"
          label=${t("cancel")}
          action=${act("cancel")}
        />`
      }
      ${
        (counts.failed ?? 0) > 0 &&
        FINISHED.has(job.status) &&
        html`<${ActionButton} name="retry" label=${t("retry")} action=${act("retry")} />`
      }
    </div>
    <${ErrorLine} error=${error} />
    <dl class="facts">
      <dt>${t("mother")}</dt>
      <dd class="wrap">${job.apk}</dd>
      <dt>${t("progress")}</dt>
      <dd data-progress>
        <${Progress} done=${finishedCount(counts)} total=${counts.total} />
        ${t("countsLine", counts.done ?? 0, counts.failed ?? 0, counts.total)}
      </dd>
      <dt>${t("target")}</dt>
      <dd>${job.upload.target} · ${job.upload.prefix}</dd>
      <dt>${t("created")}</dt>
      <dd>${formatTime(job.createdAt)}</dd>
      <dt>${t("finished")}</dt>
      <dd>${formatTime(job.finishedAt)}</dd>
    </dl>
    <${Table} testId="channels" columns=${columns} rows=${channels} rowKey=${(c) => c.channel} />
    ${next && html`<button class="link" onClick=${more}>${t("more")}</button>`}
  `;
}

/** A child's download through a signed link: a plain link could not carry the token. */
async function downloadChild(jobId, channel) {
  const { url } = await api(`${jobPath(jobId)}/channels/${encodeURIComponent(channel)}/sign`, {
    method: "POST",
  });
  download(new URL(url, location.href).href);
}

export function PackJobs({ route }) {
  if (route[0] === "new") return html`<${NewJob} />`;
  if (route[0]) return html`<${JobDetail} id=${route[0]} />`;
  return html`<${JobList} />`;
}
