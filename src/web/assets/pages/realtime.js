// Realtime: the live gateways and their connections, each logic group's
// backlog (bus lag), and a test push to a uid.
import { html, useState } from "/web/vendor/preact-htm.js";
import { api } from "/web/api.js";
import { t } from "/web/i18n.js";
import { Badge, ErrorLine, Field, Table, formatTime, usePoll } from "/web/ui.js";

const OPS = "/api/v1/realtime";

function Gateways({ gateways }) {
  const columns = [
    { key: "gatewayId", label: t("gateway"), className: "wrap" },
    { key: "startedAt", label: t("started"), render: (g) => formatTime(g.startedAt) },
    { key: "connections", label: t("connections"), render: (g) => g.connections ?? "–" },
    { key: "uids", label: t("users"), render: (g) => g.uids ?? "–" },
    { key: "messagesIn", label: t("messagesIn"), render: (g) => g.messagesIn ?? "–" },
    { key: "messagesOut", label: t("messagesOut"), render: (g) => g.messagesOut ?? "–" },
    { key: "updatedAt", label: t("updated", ""), render: (g) => formatTime(g.updatedAt) },
  ];
  const connections = gateways.flatMap((g) =>
    (g.listed ?? []).map((c) => ({ ...c, gatewayId: g.gatewayId })),
  );
  const connectionColumns = [
    { key: "uid", label: "uid", className: "wrap" },
    { key: "group", label: t("group"), className: "wrap", render: (c) => c.group ?? "–" },
    { key: "ip", label: "IP" },
    { key: "since", label: t("since"), render: (c) => formatTime(c.since) },
    { key: "gatewayId", label: t("gateway"), className: "wrap" },
  ];
  return html`
    <${Table} testId="gateways" columns=${columns} rows=${gateways} rowKey=${(g) => g.gatewayId} />
    <h2>${t("connections")}</h2>
    <${Table}
      testId="connections"
      columns=${connectionColumns}
      rows=${connections}
      rowKey=${(c) => c.connId}
    />
  `;
}

function LogicGroups({ groups }) {
  const columns = [
    { key: "group", label: t("group"), className: "wrap" },
    { key: "lag", label: t("lag") },
    { key: "pending", label: t("pending") },
    { key: "length", label: t("streamLength") },
    {
      key: "consumers",
      label: t("workers"),
      className: "wrap",
      render: (g) =>
        g.consumers.map(
          (c) =>
            html`<span class="consumer"
              >${c.name} <${Badge} state=${c.alive ? "alive" : "lost"}
            /></span> `,
        ),
    },
  ];
  return html`<${Table}
    testId="logic-groups"
    columns=${columns}
    rows=${groups}
    rowKey=${(g) => g.group}
  />`;
}

function Push() {
  const [uid, setUid] = useState("");
  const [msgId, setMsgId] = useState("1500");
  const [body, setBody] = useState('{"hello": "from the dashboard"}');
  const [persist, setPersist] = useState(true);
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setAnswer(null);
    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      setError({ code: "E_JSON", message: t("badJson", err.message) });
      return;
    }
    try {
      setAnswer(
        await api("/api/v1/push", {
          method: "POST",
          body: { to: { uid }, msgId: Number(msgId), body: parsed, persist },
        }),
      );
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="form" onSubmit=${submit}>
    <${Field} label="uid">
      <input name="uid" value=${uid} onInput=${(e) => setUid(e.currentTarget.value)} />
    </${Field}>
    <${Field} label="msgId">
      <input name="msgId" inputmode="numeric" value=${msgId} onInput=${(e) => setMsgId(e.currentTarget.value)} />
    </${Field}>
    <${Field} label=${t("pushBody")} wide>
      <textarea name="body" rows="3" value=${body} onInput=${(e) => setBody(e.currentTarget.value)}></textarea>
    </${Field}>
    <label class="inline">
      <input type="checkbox" name="persist" checked=${persist} onChange=${(e) => setPersist(e.currentTarget.checked)} />
      ${t("persist")}
    </label>
    <div class="wide submit"><button type="submit" name="push" disabled=${uid === ""}>${t("push")}</button></div>
    <${ErrorLine} error=${error} />
    ${
      answer &&
      html`<p class="ok-note wide" data-pushed>
        ${t("pushed", answer.gateways, Object.values(answer.offsets ?? {}).join(", ") || "–")}
      </p>`
    }
  </form>`;
}

export function Realtime() {
  const gateways = usePoll(() => api(`${OPS}/gateways`), 3000);
  const groups = usePoll(() => api(`${OPS}/logic-groups`), 3000);
  return html`
    <h2>${t("gateways")}</h2>
    <${ErrorLine} error=${gateways.error} />
    ${gateways.data && html`<${Gateways} gateways=${gateways.data.gateways} />`}
    <h2>${t("logicGroups")}</h2>
    <${ErrorLine} error=${groups.error} />
    ${groups.data && html`<${LogicGroups} groups=${groups.data.groups} />`}
    <h2>${t("testPush")}</h2>
    <${Push} />
  `;
}
