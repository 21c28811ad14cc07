// The form that creates a pack job. The mother comes from the packages root
// or is uploaded here (tus, resumable after a reload). The server judges the
// request: every change is sent as a dry run and each field shows the errors
// the server names for it — the page has no validator of its own.
import { html, useEffect, useRef, useState } from "/web/vendor/preact-htm.js";
import { api, withQuery } from "/web/api.js";
import { t } from "/web/i18n.js";
import { ErrorLine, Field, Progress, formatBytes, usePoll } from "/web/ui.js";
import { uploadFile } from "/web/upload.js";

const FORMATS = ["", "walle", "vasdolly", "both"];
const DRY_RUN_DELAY_MS = 400;

/**
 * Channels as typed or pasted: one per line, `id` or `id key=value …`;
 * blank lines and lines starting with # are skipped. The ids and extras are
 * sent as they are: the server says what is wrong with them.
 */
export function parseChannels(text) {
  const lines = [];
  const channels = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [id, ...pairs] = line.split(/\s+/);
    lines.push(index + 1);
    if (pairs.length === 0) {
      channels.push(id);
      return;
    }
    const extras = {};
    for (const pair of pairs) {
      const at = pair.indexOf("=");
      extras[at < 0 ? pair : pair.slice(0, at)] = at < 0 ? "" : pair.slice(at + 1);
    }
    channels.push({ id, extras });
  });
  return { channels, lines };
}

/** The server's per-field errors ({field, code, message}) grouped by the form field they belong to. */
function errorsByField(error, lines) {
  const details = error?.details ?? {};
  const fields =
    details.fields ??
    (details.field !== undefined ? [{ ...details, code: error.code, message: error.message }] : []);
  const groups = { apk: [], channels: [], format: [], name: [], other: [] };
  for (const f of fields) {
    const field = f.field ?? "";
    const text = f.message ?? f.code;
    const channel = /^channels\.(\d+)/.exec(field);
    if (field.startsWith("apk")) groups.apk.push(text);
    else if (channel) groups.channels.push(t("lineError", lines[Number(channel[1])] ?? "?", text));
    else if (field.startsWith("channels")) groups.channels.push(text);
    else if (field in groups) groups[field].push(text);
    else groups.other.push(field ? `${field}: ${text}` : text);
  }
  if (error && fields.length === 0) groups.other.push(`${error.code}: ${error.message}`);
  return groups;
}

function MotherUpload({ onUploaded }) {
  const [progress, setProgress] = useState(null);
  const [error, setError] = useState(null);
  const choose = async (event) => {
    const file = event.currentTarget.files[0];
    if (!file) return;
    setError(null);
    setProgress({ sent: 0, total: file.size, resumed: false, name: file.name });
    try {
      const id = await uploadFile(file, {
        onProgress: (sent, total, resumed) =>
          setProgress({ sent, total, resumed, name: file.name }),
      });
      onUploaded({ id, name: file.name });
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="upload">
    <input type="file" name="mother-file" accept=".apk" onChange=${choose} />
    ${
      progress &&
      html`<span class="upload-progress" data-upload>
        <${Progress} done=${progress.sent} total=${progress.total} />
        ${formatBytes(progress.sent)} / ${formatBytes(progress.total)}
        ${progress.resumed ? ` · ${t("resumed")}` : ""}
      </span>`
    }
    <${ErrorLine} error=${error} />
  </div>`;
}

export function NewJob() {
  const [source, setSource] = useState("root");
  const [rootPath, setRootPath] = useState("");
  const [uploaded, setUploaded] = useState(null);
  const [query, setQuery] = useState("");
  const [channelsText, setChannelsText] = useState("");
  const [format, setFormat] = useState("");
  const [name, setName] = useState("");
  const [verdict, setVerdict] = useState(null);
  const [submitError, setSubmitError] = useState(null);
  const [busy, setBusy] = useState(false);
  const packages = usePoll(() => api(withQuery("/api/v1/packages", { q: query, limit: 100 })), 0, [
    query,
  ]);
  const { channels, lines } = parseChannels(channelsText);
  const apk = source === "root" ? rootPath : uploaded ? { fileId: uploaded.id } : "";
  const request = {
    apk,
    channels,
    ...(format ? { format } : {}),
    ...(name ? { name } : {}),
  };
  const body = JSON.stringify(request);
  const touched = useRef(false);
  useEffect(() => {
    if (!touched.current && apk === "" && channels.length === 0) return;
    touched.current = true;
    const timer = setTimeout(async () => {
      try {
        await api("/api/v1/pack-jobs?dryRun=true", { method: "POST", body: request });
        setVerdict({ valid: true, errors: errorsByField(null, lines) });
      } catch (err) {
        setVerdict({ valid: false, errors: errorsByField(err, lines) });
      }
    }, DRY_RUN_DELAY_MS);
    return () => clearTimeout(timer);
  }, [body]);
  const errors = verdict?.errors ?? errorsByField(null, lines);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setSubmitError(null);
    try {
      const job = await api("/api/v1/pack-jobs", { method: "POST", body: request });
      location.hash = `#/packs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      setSubmitError(err);
      setVerdict({ valid: false, errors: errorsByField(err, lines) });
    } finally {
      setBusy(false);
    }
  };
  const loadFile = async (event) => {
    const file = event.currentTarget.files[0];
    if (file) setChannelsText(await file.text());
  };
  const joined = (list) => (list.length > 0 ? list.join("\n") : null);
  return html`
    <p><a href="#/packs">← ${t("packJobs")}</a></p>
    <h2>${t("newJob")}</h2>
    <form class="form" onSubmit=${submit} novalidate>
      <fieldset class="wide">
        <legend>${t("mother")}</legend>
        <label class="inline">
          <input type="radio" name="source" checked=${source === "root"} onChange=${() => setSource("root")} />
          ${t("fromPackages")}
        </label>
        <label class="inline">
          <input type="radio" name="source" checked=${source === "upload"} onChange=${() => setSource("upload")} />
          ${t("uploadMother")}
        </label>
        <${Field} label=${source === "root" ? t("packagesRoot") : t("motherFile")} error=${joined(errors.apk)}>
          ${
            source === "root"
              ? html`<input
                    type="search"
                    name="package-filter"
                    placeholder=${t("filter")}
                    value=${query}
                    onInput=${(e) => setQuery(e.currentTarget.value)}
                  />
                  <select
                    name="package"
                    value=${rootPath}
                    onChange=${(e) => setRootPath(e.currentTarget.value)}
                  >
                    <option value="">${t("choose")}</option>
                    ${(packages.data?.packages ?? []).map(
                      (p) =>
                        html`<option value=${p.path}>${p.path} (${formatBytes(p.size)})</option>`,
                    )}
                  </select>
                  <${ErrorLine} error=${packages.error} />`
              : html`<${MotherUpload} onUploaded=${setUploaded} />
                  ${uploaded && html`<span class="done" data-uploaded=${uploaded.id}>✓ ${uploaded.name}</span>`}`
          }
        </${Field}>
      </fieldset>
      <${Field} label=${t("channelsField")} error=${joined(errors.channels)} wide>
        <textarea
          name="channels"
          rows="8"
          placeholder=${t("channelsPlaceholder")}
          value=${channelsText}
          onInput=${(e) => setChannelsText(e.currentTarget.value)}
        ></textarea>
        <span class="hint">${t("channelsHint", channels.length)}</span>
        <input type="file" name="channels-file" accept=".txt,.csv,text/plain" onChange=${loadFile} />
      </${Field}>
      <${Field} label=${t("format")} error=${joined(errors.format)}>
        <select name="format" value=${format} onChange=${(e) => setFormat(e.currentTarget.value)}>
          ${FORMATS.map((f) => html`<option value=${f}>${f === "" ? t("default") : f}</option>`)}
        </select>
      </${Field}>
      <${Field} label=${t("nameTemplate")} error=${joined(errors.name)}>
        <input
          name="name"
          placeholder="{package}-{versionName}-{channel}.apk"
          value=${name}
          onInput=${(e) => setName(e.currentTarget.value)}
        />
      </${Field}>
      ${errors.other.length > 0 && html`<p class="error wide" role="alert">${errors.other.join("; ")}</p>`}
      <div class="wide submit">
        <button type="submit" name="create" disabled=${busy || !verdict?.valid}>${t("createJob")}</button>
        ${verdict?.valid && html`<span class="ok-note" data-valid>${t("looksValid", channels.length)}</span>`}
      </div>
      <${ErrorLine} error=${submitError} />
    </form>
  `;
}
