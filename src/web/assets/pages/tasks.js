// Task cluster: executors (alive or lost, tools, slots, cache), tasks with
// state and timings, a task's result with its outputs and logs, and a form
// that runs a task on a tool the executors offer.
import { html, useEffect, useState } from "/web/vendor/preact-htm.js";
import { api, download, readEvents, signedFileUrl, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import {
  ActionButton,
  Badge,
  Digest,
  ErrorLine,
  Field,
  Pager,
  StatusFilter,
  Table,
  formatBytes,
  formatSpan,
  formatTime,
  usePoll,
} from "/web/ui.js";

const STATUSES = [
  "",
  "queued",
  "assigned",
  "staging",
  "running",
  "uploading",
  "done",
  "failed",
  "timed_out",
  "cancelled",
];
const FINISHED = new Set(["done", "failed", "timed_out", "cancelled"]);
const LIMIT = 50;
const taskPath = (id) => `/api/v1/tasks/${encodeURIComponent(id)}`;
const lines = (text) => text.split(/\r?\n/).filter((l) => l.trim() !== "");

function Executors({ executors }) {
  const columns = [
    { key: "id", label: t("executor"), className: "wrap" },
    { key: "state", label: t("state"), render: (e) => html`<${Badge} state=${e.state} />` },
    { key: "pool", label: t("pool") },
    {
      key: "tools",
      label: t("tools"),
      className: "wrap",
      render: (e) => Object.keys(e.tools).join(", "),
    },
    { key: "slots", label: t("slots"), render: (e) => `${e.busy} / ${e.slots}` },
    {
      key: "cache",
      label: t("cache"),
      render: (e) => `${formatBytes(e.cache.bytes)} / ${formatBytes(e.cache.max)}`,
    },
    { key: "lastSeen", label: t("lastSeen"), render: (e) => formatTime(e.lastSeen) },
  ];
  return html`<${Table}
    testId="executors"
    columns=${columns}
    rows=${executors}
    rowKey=${(e) => e.id}
  />`;
}

function RunTask({ tools }) {
  const [tool, setTool] = useState("");
  const [args, setArgs] = useState("");
  const [outputs, setOutputs] = useState("");
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const task = await api("/api/v1/tasks", {
        method: "POST",
        body: { tool, args: lines(args), outputs: lines(outputs) },
      });
      location.hash = `#/tasks/${encodeURIComponent(task.id)}`;
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="form" onSubmit=${submit}>
    <${Field} label=${t("tool")}>
      <select name="tool" value=${tool} onChange=${(e) => setTool(e.currentTarget.value)}>
        <option value="">${t("choose")}</option>
        ${tools.map((name) => html`<option value=${name}>${name}</option>`)}
      </select>
    </${Field}>
    <${Field} label=${t("argsField")}>
      <textarea name="args" rows="3" value=${args} onInput=${(e) => setArgs(e.currentTarget.value)}></textarea>
    </${Field}>
    <${Field} label=${t("outputsField")}>
      <textarea name="outputs" rows="3" value=${outputs} onInput=${(e) => setOutputs(e.currentTarget.value)}></textarea>
    </${Field}>
    <div class="wide submit"><button type="submit" name="run" disabled=${tool === ""}>${t("runTask")}</button></div>
    <${ErrorLine} error=${error} />
  </form>`;
}

function TaskList() {
  const [status, setStatus] = useState("");
  const [offset, setOffset] = useState(0);
  const executors = usePoll(() => api("/api/v1/executors"), 5000);
  const tasks = usePoll(
    () => api(withQuery("/api/v1/tasks", { status, limit: LIMIT, offset })),
    3000,
    [status, offset],
  );
  const tools = [
    ...new Set(
      (executors.data?.executors ?? [])
        .filter((e) => e.state !== "lost")
        .flatMap((e) => Object.keys(e.tools)),
    ),
  ].sort();
  const columns = [
    {
      key: "id",
      label: t("task"),
      render: (x) => html`<a href=${`#/tasks/${encodeURIComponent(x.id)}`}>${x.id}</a>`,
    },
    { key: "tool", label: t("tool") },
    { key: "status", label: t("status"), render: (x) => html`<${Badge} state=${x.status} />` },
    { key: "executor", label: t("executor"), className: "wrap", render: (x) => x.executor ?? "–" },
    { key: "createdAt", label: t("created"), render: (x) => formatTime(x.createdAt) },
    { key: "ran", label: t("ran"), render: (x) => formatSpan(x.startedAt, x.finishedAt) },
  ];
  return html`
    <h2>${t("executors")}</h2>
    <${ErrorLine} error=${executors.error} />
    ${executors.data && html`<${Executors} executors=${executors.data.executors} />`}
    <h2>${t("runTask")}</h2>
    <${RunTask} tools=${tools} />
    <div class="toolbar">
      <h2>${t("tasks")}</h2>
      <${StatusFilter}
        statuses=${STATUSES}
        value=${status}
        onChange=${(value) => {
          setStatus(value);
          setOffset(0);
        }}
      />
    </div>
    <${ErrorLine} error=${tasks.error} />
    ${
      tasks.data &&
      html`<${Table}
          testId="tasks"
          columns=${columns}
          rows=${tasks.data.tasks}
          rowKey=${(x) => x.id}
        />
        <${Pager}
          offset=${offset}
          limit=${LIMIT}
          total=${tasks.data.total}
          onChange=${setOffset}
        />`
    }
  `;
}

const fetchLink = (fileId) => async () => download(await signedFileUrl(fileId));

function TaskDetail({ id }) {
  const [task, setTask] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const stop = new AbortController();
    (async () => {
      const first = await api(taskPath(id));
      setTask(first);
      if (FINISHED.has(first.status)) return;
      await readEvents(`${taskPath(id)}/events`, {
        signal: stop.signal,
        onEvent: (type, data) => {
          if (type === "task") setTask(data);
          else if (type === "end") void api(taskPath(id)).then(setTask, setError);
        },
      });
    })().catch((err) => {
      if (!stop.signal.aborted) setError(err);
    });
    return () => stop.abort();
  }, [id]);
  if (!task)
    return html`<${ErrorLine} error=${error} />
      <p class="loading">…</p>`;
  const result = task.result;
  const outputColumns = [
    { key: "path", label: t("path"), className: "wrap" },
    { key: "size", label: t("size"), render: (o) => formatBytes(o.size) },
    { key: "sha256", label: "sha256", render: (o) => html`<${Digest} value=${o.sha256} />` },
    {
      key: "get",
      label: "",
      render: (o) =>
        html`<${ActionButton}
          className="small"
          name="download"
          label=${t("download")}
          action=${fetchLink(o.fileId)}
        />`,
    },
  ];
  return html`
    <p><a href="#/tasks">← ${t("tasks")}</a></p>
    <div class="toolbar">
      <h2 class="wrap">${t("task")} ${task.id}</h2>
      <${Badge} state=${task.status} />
      ${
        !FINISHED.has(task.status) &&
        html`<${ActionButton}
          name="cancel"
          className="danger"
          label=${t("cancel")}
          action=${() => api(`${taskPath(id)}/cancel`, { method: "POST" })}
        />`
      }
    </div>
    <${ErrorLine} error=${error} />
    <dl class="facts">
      <dt>${t("tool")}</dt>
      <dd>${task.tool} ${task.args.join(" ")}</dd>
      <dt>${t("executor")}</dt>
      <dd>${task.executor ?? "–"}</dd>
      <dt>${t("attempts")}</dt>
      <dd>${task.attempts}</dd>
      <dt>${t("created")}</dt>
      <dd>${formatTime(task.createdAt)}</dd>
      <dt>${t("waited")}</dt>
      <dd>${formatSpan(task.createdAt, task.startedAt)}</dd>
      <dt>${t("ran")}</dt>
      <dd>${formatSpan(task.startedAt, task.finishedAt)}</dd>
      ${
        task.error &&
        html`<dt>${t("error")}</dt>
          <dd class="error">${task.error.code}: ${task.error.message}</dd>`
      }
      ${
        result &&
        html`<dt>${t("exitCode")}</dt>
          <dd data-field="exitCode">${result.exitCode}</dd>`
      }
    </dl>
    ${
      result &&
      html`<h2>${t("outputs")}</h2>
        <${Table}
          testId="outputs"
          columns=${outputColumns}
          rows=${result.outputs}
          rowKey=${(o) => o.path}
        />
        <h2>stdout</h2>
        <pre class="log" data-log="stdout">${result.stdout}</pre>
        <h2>stderr</h2>
        <pre class="log" data-log="stderr">${result.stderr}</pre>
        <p class="actions">
          ${["stdout", "stderr"].map(
            (stream) =>
              result.logs?.[stream] &&
              html`<${ActionButton}
                className="small"
                name=${`${stream}-log`}
                label=${t("fullLog", stream)}
                action=${fetchLink(result.logs[stream])}
              />`,
          )}
        </p>`
    }
  `;
}

export function Tasks({ route }) {
  return route[0] ? html`<${TaskDetail} id=${route[0]} />` : html`<${TaskList} />`;
}
