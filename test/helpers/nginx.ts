/**
 * A private Debian nginx for tests and benchmarks: everything it writes (pid,
 * logs, temp bodies) lives under its own prefix directory, it runs in the
 * foreground as our child (`daemon off`, one worker) on a loopback port picked
 * by binding port 0, and its access log is JSON lines that say which upstream
 * served each request (`$upstream_addr`) — how a test learns which gamedock
 * instance nginx chose without adding anything to gamedock's answers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { toolPath } from "./tools.js";

export interface AccessEntry {
  method: string;
  uri: string;
  status: number;
  /** host:port of the upstream that served it ("" for static files). */
  upstream: string;
  /** Bytes nginx received from the client (request line, headers, body). */
  requestLength: number;
}

export interface Nginx {
  url: string;
  port: number;
  prefix: string;
  /** The master process; its worker is its only child. */
  pid: number;
  /** The access log so far, oldest first. */
  accessLog(): Promise<AccessEntry[]>;
  /** SIGTERM (the master stops its worker, then itself), SIGKILL after 5 s; resolves on exit. */
  stop(): Promise<void>;
}

/** A free loopback port: bind port 0, read it, close (nginx binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

/**
 * Starts nginx: `http` goes into the http block (upstreams, tuning), `server`
 * into its one server block, which listens on a free loopback port.
 */
export async function startNginx(
  prefix: string,
  options: { http?: string; server: string },
): Promise<Nginx> {
  const nginx = toolPath("nginx");
  if (nginx === null) throw new Error("nginx not found (apt-get install nginx)");
  await mkdir(join(prefix, "temp"), { recursive: true });
  const port = await freePort();
  const conf = join(prefix, "nginx.conf");
  const accessLog = join(prefix, "access.log");
  // Started as root, nginx would run its worker as nobody, who cannot enter mkdtemp's 0700 dirs.
  const user = process.getuid?.() === 0 ? "user root;" : "";
  await writeFile(
    conf,
    `${user}
daemon off;
master_process on;
worker_processes 1;
pid ${join(prefix, "nginx.pid")};
error_log ${join(prefix, "error.log")} warn;
events { worker_connections 1024; }
http {
  log_format gamedock escape=json '{"method":"$request_method","uri":"$request_uri","status":$status,'
    '"upstream":"$upstream_addr","requestLength":$request_length}';
  access_log ${accessLog} gamedock;
  client_body_temp_path ${join(prefix, "temp/client")};
  proxy_temp_path ${join(prefix, "temp/proxy")};
  fastcgi_temp_path ${join(prefix, "temp/fastcgi")};
  uwsgi_temp_path ${join(prefix, "temp/uwsgi")};
  scgi_temp_path ${join(prefix, "temp/scgi")};
  default_type application/octet-stream;
  ${options.http ?? ""}
  server {
    listen 127.0.0.1:${port};
    ${options.server}
  }
}
`,
  );
  await writeFile(accessLog, "");
  const child: ChildProcess = spawn(
    nginx,
    ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => {
      resolve();
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const errors = async (): Promise<string> =>
    `${stderr}${await readFile(join(prefix, "error.log"), "utf8").catch(() => "")}`;

  for (let attempt = 0; !(await answers(port)); attempt++) {
    if (gone || attempt >= 100) {
      child.kill("SIGKILL");
      throw new Error(`nginx did not start on port ${port}: ${await errors()}`);
    }
    await delay(50);
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    prefix,
    pid: child.pid ?? 0,
    async accessLog() {
      const text = await readFile(accessLog, "utf8");
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as AccessEntry);
    },
    async stop() {
      if (gone) return;
      child.kill("SIGTERM");
      const killed = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killed);
    },
  };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
