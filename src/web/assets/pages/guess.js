// Guessing admin (docs/guess.md, "HTTP API"): the sub-navigation and the
// route to each view — matches by state and a match with its options, odds,
// settlement progress and only the actions its state allows (guess/matches.js),
// wallets with their ledger and adjustments (guess/wallets.js), the audit log
// (guess/audit.js) and the daily statistics (guess/stats.js); each view makes
// its own requests. Routes: #/guess, #/guess/<match id>,
// #/guess/wallets[/<uid>], #/guess/audit[/<match id>], #/guess/stats.
import { html } from "/web/vendor/preact-htm.js";
import { t } from "/web/i18n.js";
import { Audit } from "/web/pages/guess/audit.js";
import { MatchDetail, MatchList } from "/web/pages/guess/matches.js";
import { Stats } from "/web/pages/guess/stats.js";
import { Wallets } from "/web/pages/guess/wallets.js";

function SubNav({ active }) {
  const tabs = [
    { id: "matches", href: "#/guess", label: "guessMatches" },
    { id: "wallets", href: "#/guess/wallets", label: "guessWallets" },
    { id: "audit", href: "#/guess/audit", label: "guessAudit" },
    { id: "stats", href: "#/guess/stats", label: "guessStats" },
  ];
  return html`<nav class="subnav" data-subnav>
    ${tabs.map(
      (tab) =>
        html`<a href=${tab.href} data-tab=${tab.id} class=${tab.id === active ? "active" : ""}
          >${t(tab.label)}</a
        >`,
    )}
  </nav>`;
}

export function Guess({ route }) {
  const [section, arg] = route;
  const active = ["wallets", "audit", "stats"].includes(section) ? section : "matches";
  let view;
  if (section === "wallets") view = html`<${Wallets} uid=${arg} />`;
  else if (section === "audit") view = html`<${Audit} matchId=${arg} />`;
  else if (section === "stats") view = html`<${Stats} />`;
  else if (section) view = html`<${MatchDetail} id=${section} />`;
  else view = html`<${MatchList} />`;
  return html`<${SubNav} active=${active} />${view}`;
}
