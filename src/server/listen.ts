/**
 * Binding the HTTP server to server.host:server.port, with errors that say
 * what to change: an address in use names it and suggests --port, an address
 * this machine does not have suggests --host. The URL printed afterwards
 * carries the port the OS chose for port 0 and brackets around IPv6.
 */
import type { FastifyInstance } from "fastify";
import { GamedockError, errnoCode, type Config } from "../core/index.js";
import { bareHost, urlHost } from "./resolve.js";

function listenError(err: unknown, host: string, port: number): unknown {
  const where = `${urlHost(host)}:${port}`;
  switch (errnoCode(err)) {
    case "EADDRINUSE":
      return new GamedockError(
        "E_ADDRESS_IN_USE",
        `${where} is already in use by another process: stop it, or choose another port with --port (server.port; 0 picks a free one)`,
        { host, port },
        { cause: err },
      );
    case "EACCES":
      return new GamedockError(
        "E_CONFIG",
        `not allowed to listen on ${where} (ports below 1024 need privileges): choose a port from 1024 up with --port (server.port)`,
        { field: "server.port", host, port },
        { cause: err },
      );
    case "EADDRNOTAVAIL":
      return new GamedockError(
        "E_CONFIG",
        `cannot listen on ${where}: no network interface of this machine has the address ${host}; choose another with --host (server.host)`,
        { field: "server.host", host, port },
        { cause: err },
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return new GamedockError(
        "E_CONFIG",
        `cannot listen on ${where}: the host name ${host} does not resolve; give an IP address or a resolvable name with --host (server.host)`,
        { field: "server.host", host, port },
        { cause: err },
      );
    default:
      return err;
  }
}

/** Starts listening; returns the server's URL (http://host:port). */
export async function listenOn(app: FastifyInstance, config: Config): Promise<string> {
  const host = bareHost(config.server.host);
  const { port } = config.server;
  try {
    await app.listen({ host, port });
  } catch (err) {
    throw listenError(err, host, port);
  }
  const address = app.server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return `http://${urlHost(host)}:${bound}`;
}
