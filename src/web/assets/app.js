// The dashboard shell: sign-in when the server needs a token, the page
// navigation, the language switch. Pages live in pages/*.js.
import { html, render, useEffect, useState } from "/web/vendor/preact-htm.js";
import { api, clearToken, setToken, token, whenUnauthorized } from "/web/api.js";
import { currentLanguage, setLanguage, t } from "/web/i18n.js";
import { Overview } from "/web/pages/overview.js";

const PAGES = [{ id: "overview", label: "overview", view: Overview }];

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
  const id = location.hash.replace(/^#\/?/, "");
  return PAGES.find((p) => p.id === id) ?? PAGES[0];
}

function App() {
  // null: not known yet; "login": the server needs a token we do not have.
  const [access, setAccess] = useState(null);
  const [, setLang] = useState(currentLanguage());
  const [page, setPage] = useState(pageFromHash());
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
  return html`${header}
    <section class="page"><${View} /></section>`;
}

document.documentElement.lang = currentLanguage() === "zh" ? "zh-CN" : "en";
render(html`<${App} />`, document.getElementById("app"));
