// Files: the stored files, searched by name or digest; upload (tus, with
// progress), download and signed links (a link carries no token), delete,
// and the `apk info` of a stored APK.
import { html, useState } from "/web/vendor/preact-htm.js";
import { api, download, signedFileUrl, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import {
  ActionButton,
  Digest,
  ErrorLine,
  Progress,
  Table,
  formatBytes,
  formatTime,
  usePoll,
} from "/web/ui.js";
import { uploadFile } from "/web/upload.js";

const LIMIT = 50;
const filePath = (id) => `/files/${encodeURIComponent(id)}`;
const looksLikeApk = (f) =>
  /\.apk$/i.test(f.name) || f.contentType === "application/vnd.android.package-archive";

function Upload({ onDone }) {
  const [state, setState] = useState(null);
  const [error, setError] = useState(null);
  const choose = async (event) => {
    const input = event.currentTarget;
    const file = input.files[0];
    if (!file) return;
    setError(null);
    setState({ name: file.name, sent: 0, total: file.size });
    try {
      await uploadFile(file, {
        onProgress: (sent, total) => setState({ name: file.name, sent, total }),
      });
      setState(null);
      input.value = "";
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="upload">
    <label class="inline"
      >${t("uploadFile")} <input type="file" name="upload" onChange=${choose}
    /></label>
    ${
      state &&
      html`<span class="upload-progress" data-upload>
        ${state.name} <${Progress} done=${state.sent} total=${state.total} />
      </span>`
    }
    <${ErrorLine} error=${error} />
  </div>`;
}

function ApkInfo({ file }) {
  const { data, error } = usePoll(
    () => api(`/api/v1/files/${encodeURIComponent(file.id)}/apk`),
    0,
    [file.id],
  );
  if (error) return html`<${ErrorLine} error=${error} />`;
  if (!data) return html`<p class="loading">…</p>`;
  const signatures = Object.entries(data.signatures ?? {})
    .filter(([, on]) => on)
    .map(([scheme]) => scheme)
    .join(" ");
  return html`<dl class="facts" data-apk=${file.id}>
    <dt>${t("package")}</dt>
    <dd data-field="package">${data.package}</dd>
    <dt>${t("version")}</dt>
    <dd>${data.versionName} (${data.versionCode})</dd>
    <dt>${t("label")}</dt>
    <dd>${data.label ?? "–"}</dd>
    <dt>SDK</dt>
    <dd>${data.minSdk ?? "–"} – ${data.targetSdk ?? "–"}</dd>
    <dt>${t("signatures")}</dt>
    <dd>${signatures || "–"}</dd>
    <dt>${t("channel")}</dt>
    <dd>${data.channel ? `${data.channel.channel} (${data.channel.format})` : "–"}</dd>
  </dl>`;
}

export function Files() {
  const [query, setQuery] = useState("");
  const [cursors, setCursors] = useState([null]);
  const [open, setOpen] = useState(null);
  const [link, setLink] = useState(null);
  const cursor = cursors[cursors.length - 1];
  const { data, error, reload } = usePoll(
    () => api(withQuery("/api/v1/files", { q: query.trim(), cursor, limit: LIMIT })),
    0,
    [query, cursor],
  );
  const remove = async (file) => {
    if (!confirm(t("confirmDelete", file.name))) return;
    await api(filePath(file.id), { method: "DELETE" });
    if (open === file.id) setOpen(null);
    await reload();
  };
  const makeLink = async (file) =>
    setLink({ id: file.id, url: await signedFileUrl(file.id, 3600) });
  const columns = [
    { key: "name", label: t("name"), className: "wrap" },
    { key: "size", label: t("size"), render: (f) => formatBytes(f.size) },
    { key: "sha256", label: "sha256", render: (f) => html`<${Digest} value=${f.sha256} />` },
    { key: "createdAt", label: t("created"), render: (f) => formatTime(f.createdAt) },
    {
      key: "actions",
      label: "",
      render: (f) =>
        html`<span class="actions">
          <${ActionButton}
            className="small"
            name="download"
            label=${t("download")}
            action=${async () => download(await signedFileUrl(f.id))}
          />
          <${ActionButton}
            className="small"
            name="sign"
            label=${t("signedLink")}
            action=${() => makeLink(f)}
          />
          ${
            looksLikeApk(f) &&
            html`<button
              class="small"
              name="apk-info"
              onClick=${() => setOpen(open === f.id ? null : f.id)}
            >
              ${t("apkInfo")}
            </button>`
          }
          <${ActionButton}
            className="small danger"
            name="delete"
            label=${t("delete")}
            action=${() => remove(f)}
          />
        </span>`,
    },
  ];
  const opened = data?.files.find((f) => f.id === open);
  return html`
    <div class="toolbar">
      <h2>${t("files")}</h2>
      <input
        type="search"
        name="q"
        placeholder=${t("searchFiles")}
        value=${query}
        onInput=${(e) => {
          setQuery(e.currentTarget.value);
          setCursors([null]);
        }}
      />
    </div>
    <${Upload} onDone=${reload} />
    <${ErrorLine} error=${error} />
    ${
      link &&
      html`<p class="signed-link">
        ${t("signedLinkIs")}
        <input
          readonly
          name="signed-url"
          value=${link.url}
          onFocus=${(e) => e.currentTarget.select()}
        />
      </p>`
    }
    ${data && html`<${Table} testId="files" columns=${columns} rows=${data.files} rowKey=${(f) => f.id} />`}
    <div class="pager">
      ${cursors.length > 1 && html`<button class="link" onClick=${() => setCursors(cursors.slice(0, -1))}>${t("previous")}</button>`}
      ${data?.nextCursor && html`<button class="link" onClick=${() => setCursors([...cursors, data.nextCursor])}>${t("next")}</button>`}
    </div>
    ${
      opened &&
      html`<h2>${t("apkInfo")}: ${opened.name}</h2>
        <${ApkInfo} file=${opened} />`
    }
  `;
}
