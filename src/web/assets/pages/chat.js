// Chat, for support staff: conversations and groups, message volume, the
// offline backlog, and a conversation's recent history — text only; files
// show as links (signed by the server), recalled messages as a note.
import { html, useState } from "/web/vendor/preact-htm.js";
import { api, withQuery } from "/web/api.js";
import { LiveChart, formatNumber } from "/web/chart.js";
import { t } from "/web/i18n.js";
import { ErrorLine, Table, formatTime, usePoll } from "/web/ui.js";

const CHAT = "/api/v1/chat";
const LIMIT = 50;
const convPath = (conv) => `${CHAT}/conversations/${encodeURIComponent(conv)}`;

function Stats({ stats }) {
  const days = stats.messagesByDay.map((d) => ({
    t: Date.parse(`${d.day}T00:00:00Z`) / 1000,
    v: d.count,
  }));
  return html`<dl class="totals">
      <dt>${t("directChats")}</dt>
      <dd data-total="direct">${formatNumber(stats.conversations.direct)}</dd>
      <dt>${t("groupChats")}</dt>
      <dd data-total="group">${formatNumber(stats.conversations.group)}</dd>
      <dt>${t("messages")}</dt>
      <dd data-total="messages">${formatNumber(stats.messages)}</dd>
      <dt>${t("backlog")}</dt>
      <dd data-total="backlog">${t("backlogLine", stats.backlog.unread, stats.backlog.users)}</dd>
    </dl>
    <div class="charts">
      <${LiveChart} title=${t("messagesPerDay")} samples=${days} />
    </div>`;
}

function Conversations() {
  const [kind, setKind] = useState("");
  const [query, setQuery] = useState("");
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const { data, error } = usePoll(
    () => api(withQuery(`${CHAT}/conversations`, { kind, q: query.trim(), cursor, limit: LIMIT })),
    5000,
    [kind, query, cursor],
  );
  const columns = [
    {
      key: "conv",
      label: t("conversation"),
      className: "wrap",
      render: (c) =>
        html`<a href=${`#/chat/${encodeURIComponent(c.conv)}`}>${c.name ?? c.conv}</a>`,
    },
    { key: "kind", label: t("kind") },
    { key: "members", label: t("members") },
    { key: "lastSeq", label: t("messages") },
    { key: "lastMessageAt", label: t("lastMessage"), render: (c) => formatTime(c.lastMessageAt) },
  ];
  return html`
    <div class="toolbar">
      <h2>${t("conversations")}</h2>
      <select
        name="kind"
        value=${kind}
        onChange=${(e) => {
          setKind(e.currentTarget.value);
          setCursors([null]);
        }}
      >
        <option value="">${t("all")}</option>
        <option value="direct">${t("directChats")}</option>
        <option value="group">${t("groupChats")}</option>
      </select>
      <input
        type="search"
        name="q"
        placeholder=${t("searchConversations")}
        value=${query}
        onInput=${(e) => {
          setQuery(e.currentTarget.value);
          setCursors([null]);
        }}
      />
    </div>
    <${ErrorLine} error=${error} />
    ${data && html`<${Table} testId="conversations" columns=${columns} rows=${data.conversations} rowKey=${(c) => c.conv} />`}
    <div class="pager">
      ${cursors.length > 1 && html`<button class="link" onClick=${() => setCursors(cursors.slice(0, -1))}>${t("previous")}</button>`}
      ${data?.nextCursor && html`<button class="link" onClick=${() => setCursors([...cursors, data.nextCursor])}>${t("next")}</button>`}
    </div>
  `;
}

function MessageBody({ message }) {
  if (message.recalled) return html`<em class="muted">${t("recalled")}</em>`;
  if (message.file) {
    return html`<span
      >${message.text ? `${message.text} ` : ""}<a
        href=${message.file.url}
        rel="noopener"
        target="_blank"
        >${message.file.name}</a
      ></span
    >`;
  }
  if (message.type !== "text" && message.type !== "rich")
    return html`<em class="muted">[${message.type}]</em>`;
  return message.text ?? "";
}

function History({ conv }) {
  const [older, setOlder] = useState([]);
  const [more, setMore] = useState(null);
  const { data, error } = usePoll(
    () => api(withQuery(`${convPath(conv)}/messages`, { limit: LIMIT })),
    5000,
    [conv],
  );
  const latest = data?.messages ?? [];
  const shown = [...latest, ...older.filter((m) => !latest.some((l) => l.seq === m.seq))];
  const loadOlder = async () => {
    const last = shown[shown.length - 1];
    const page = await api(
      withQuery(`${convPath(conv)}/messages`, { beforeSeq: last.seq, limit: LIMIT }),
    );
    setOlder((list) => [...list, ...page.messages]);
    setMore(page.more);
  };
  const columns = [
    { key: "seq", label: "#" },
    { key: "ts", label: t("sent"), render: (m) => formatTime(m.ts) },
    { key: "sender", label: t("sender"), className: "wrap" },
    {
      key: "text",
      label: t("message"),
      className: "wrap",
      render: (m) => html`<${MessageBody} message=${m} />`,
    },
  ];
  const canLoadOlder = shown.length > 0 && (more ?? data?.more);
  return html`
    <p><a href="#/chat">← ${t("conversations")}</a></p>
    <h2 class="wrap">${t("history")} ${conv}</h2>
    <${ErrorLine} error=${error} />
    ${data && html`<${Table} testId="messages" columns=${columns} rows=${shown} rowKey=${(m) => String(m.seq)} />`}
    ${canLoadOlder && html`<button class="link" onClick=${loadOlder}>${t("more")}</button>`}
  `;
}

function ChatHome() {
  const stats = usePoll(() => api(`${CHAT}/stats`), 10000);
  return html`
    <h2>${t("chatVolume")}</h2>
    <${ErrorLine} error=${stats.error} />
    ${stats.data && html`<${Stats} stats=${stats.data} />`}
    <${Conversations} />
  `;
}

export function Chat({ route }) {
  return route[0] ? html`<${History} conv=${route[0]} />` : html`<${ChatHome} />`;
}
