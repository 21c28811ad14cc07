// The dashboard shell: sign-in when the server needs a token, the page
// navigation, the language switch. Pages live in pages/*.js.
import { html, render, useEffect, useState } from "/web/vendor/preact-htm.js";
import { api, clearToken, setToken, token, whenUnauthorized } from "/web/api.js";
import { currentLanguage, setLanguage, t } from "/web/i18n.js";
import { Chat } from "/web/pages/chat.js";
import { Files } from "/web/pages/files.js";
import { Guess } from "/web/pages/guess.js";
import { Overview } from "/web/pages/overview.js";
import { PackJobs } from "/web/pages/packs.js";
import { Realtime } from "/web/pages/realtime.js";
import { Tasks } from "/web/pages/tasks.js";

/** The pages, in the order of the navigation; `#/<id>/<rest…>` shows one, `rest` is its route. */
const PAGES = [
  { id: "overview", label: "overview", view: Overview },
  { id: "packs", label: "packJobs", view: PackJobs },
  { id: "files", label: "files", view: Files },
  { id: "tasks", label: "taskCluster", view: Tasks },
  { id: "realtime", label: "realtime", view: Realtime },
  { id: "guess", label: "guessing", view: Guess },
  { id: "chat", label: "chat", view: Chat },
];

function Login({ onSignedIn }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    setError("");
    try {
      await api("/api/v1/summary", { useToken: value });
      setToken(value);
      onSignedIn();
    } catch (err) {
      setError(err.status === 401 ? t("tokenRefused") : t("unreachable", err.message));
    }
  };
  return html`<form class="login" onSubmit=${submit}>
    <h1>${t("loginTitle")}</h1>
    <p>${t("loginHelp")}</p>
    <label
      >${t("token")}
      <input
        type="password"
        name="token"
        autocomplete="off"
        value=${value}
        onInput=${(e) => setValue(e.currentTarget.value)}
      />
    </label>
    <button type="submit" disabled=${value === ""}>${t("signIn")}</button>
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </form>`;
}

function pageFromHash() {
  const [id, ...route] = location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part; // a hand-typed % that is no escape
      }
    });
  const page = PAGES.find((p) => p.id === id);
  return page ? { page, route: route.filter((r) => r !== "") } : { page: PAGES[0], route: [] };
}

function App() {
  // null: not known yet; "login": the server needs a token we do not have.
  const [access, setAccess] = useState(null);
  const [, setLang] = useState(currentLanguage());
  const [{ page, route }, setPage] = useState(pageFromHash());
  useEffect(() => {
    whenUnauthorized(() => {
      clearToken();
      setAccess("login");
    });
    api("/api/v1/summary").then(
      () => setAccess("open"),
      (err) => setAccess(err.status === 401 ? "login" : "open"),
    );
    const onHash = () => setPage(pageFromHash());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  const switchLanguage = () => {
    setLanguage(currentLanguage() === "zh" ? "en" : "zh");
    setLang(currentLanguage());
  };
  if (access === null) return html`<p class="loading">gamedock…</p>`;
  const header = html`<header>
    <span class="brand">${t("title")}</span>
    <nav>
      ${PAGES.map(
        (p) => html`<a href=${`#/${p.id}`} class=${p === page ? "active" : ""}>${t(p.label)}</a>`,
      )}
    </nav>
    <span class="tools">
      <button class="link" onClick=${switchLanguage}>${t("language")}</button>
      ${
        token() &&
        html`<button
          class="link"
          onClick=${() => {
            clearToken();
            setAccess("login");
          }}
        >
          ${t("logout")}
        </button>`
      }
    </span>
  </header>`;
  if (access === "login") {
    return html`${header}<${Login} onSignedIn=${() => setAccess("open")} />`;
  }
  const View = page.view;
  // Keyed by the whole route: moving between two jobs starts the view afresh.
  return html`${header}
    <section class="page">
      <${View} key=${`${page.id}/${route.join("/")}`} route=${route} />
    </section>`;
}

document.documentElement.lang = currentLanguage() === "zh" ? "zh-CN" : "en";
render(html`<${App} />`, document.getElementById("app"));
