// Every string the dashboard shows, in both languages: one table, so a page
// can never show a string that has no translation.
const STRINGS = {
  title: { en: "gamedock operations", zh: "gamedock 运维台" },
  overview: { en: "Overview", zh: "总览" },
  language: { en: "中文", zh: "English" },
  logout: { en: "Sign out", zh: "退出" },
  loginTitle: { en: "Sign in with an API token", zh: "使用 API 令牌登录" },
  loginHelp: {
    en: "This server needs one of its server.tokens. The token stays in this tab (session storage) and is sent with every request.",
    zh: "此服务器需要 server.tokens 中的一个令牌。令牌只保存在本标签页（会话存储）中，并随每个请求发送。",
  },
  token: { en: "API token", zh: "API 令牌" },
  signIn: { en: "Sign in", zh: "登录" },
  tokenRefused: { en: "The server refused this token.", zh: "服务器拒绝了此令牌。" },
  unreachable: { en: "The server did not answer: {0}", zh: "服务器无响应：{0}" },
  parts: { en: "Health", zh: "健康状态" },
  state_ok: { en: "ok", zh: "正常" },
  state_degraded: { en: "degraded", zh: "降级" },
  state_down: { en: "down", zh: "故障" },
  state_off: { en: "off", zh: "未启用" },
  part_database: { en: "Database", zh: "数据库" },
  part_files: { en: "Files storage", zh: "文件存储" },
  part_executors: { en: "Executors", zh: "执行器" },
  part_gateways: { en: "Realtime gateways", zh: "实时网关" },
  part_queue: { en: "Queue {0}", zh: "队列 {0}" },
  charts: { en: "Live", zh: "实时" },
  chartChannels: { en: "Pack channels done /s", zh: "渠道包完成 /秒" },
  chartFiles: { en: "Files stored", zh: "已存文件" },
  chartTasks: { en: "Tasks finished /s", zh: "任务完成 /秒" },
  chartConnections: { en: "Realtime connections", zh: "实时连接" },
  totals: { en: "Totals", zh: "合计" },
  packJobs: { en: "Pack jobs", zh: "打包任务" },
  files: { en: "Files", zh: "文件" },
  tasks: { en: "Tasks", zh: "任务" },
  updated: { en: "Updated {0}", zh: "更新于 {0}" },
};

const saved = sessionStorage.getItem("gamedock.lang");
let lang =
  saved === "zh" || saved === "en" ? saved : navigator.language.startsWith("zh") ? "zh" : "en";

export const currentLanguage = () => lang;

export function setLanguage(next) {
  lang = next;
  sessionStorage.setItem("gamedock.lang", next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

/** The string `key` in the current language, with {0}, {1}… replaced by `args`. */
export function t(key, ...args) {
  const entry = STRINGS[key];
  if (!entry) throw new Error(`no string ${key}`);
  return entry[lang].replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)] ?? ""));
}
