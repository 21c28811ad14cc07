/**
 * The broker's side of a test's own RabbitMQ connections and queues, through
 * `rabbitmqctl`: find connections by the `connection_name` gamedock gives each
 * ("gamedock queue <host>/<pid>/<token> prefix=<prefix>") and close them from
 * the server side, as a broker restart or an operator would; remove the queues
 * a run declared under its prefix. Only what holds the test's own name or
 * prefix is touched — never `close_all_connections`, which would cut the test
 * files running beside this one.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { connect } from "amqplib";
import { SERVICES } from "../helpers/services.js";

const run = promisify(execFile);
const PATIENCE_MS = 20_000;

export interface BrokerConnection {
  /** The broker's process id of the connection, as close_connection takes it. */
  pid: string;
  name: string;
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run("rabbitmqctl", args, { timeout: PATIENCE_MS });
  return stdout;
}

/** Every client connection the broker has, with its connection_name ("" when none). */
export async function listConnections(): Promise<BrokerConnection[]> {
  const out = await rabbitmqctl(
    "list_connections",
    "-q",
    "--no-table-headers",
    "pid",
    "client_properties",
  );
  const connections: BrokerConnection[] = [];
  for (const line of out.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const name = /\{"connection_name","((?:[^"\\]|\\.)*)"\}/.exec(line.slice(tab + 1))?.[1];
    connections.push({ pid: line.slice(0, tab), name: name ?? "" });
  }
  return connections;
}

export async function connectionsNamed(fragment: string): Promise<BrokerConnection[]> {
  return (await listConnections()).filter((c) => c.name.includes(fragment));
}

/**
 * Closes, from the broker, every connection whose name holds `fragment`;
 * returns them. Throws when there is none: the test would prove nothing.
 */
export async function closeConnectionsNamed(fragment: string): Promise<BrokerConnection[]> {
  const found = await connectionsNamed(fragment);
  if (found.length === 0) throw new Error(`no RabbitMQ connection is named like "${fragment}"`);
  for (const connection of found) {
    await rabbitmqctl("close_connection", connection.pid, "closed by a gamedock test");
  }
  return found;
}

/** Polls the broker until `check` holds for the connections named like `fragment`. */
export async function waitForConnections(
  fragment: string,
  check: (connections: BrokerConnection[]) => boolean,
  what: string,
): Promise<BrokerConnection[]> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const connections = await connectionsNamed(fragment);
    if (check(connections)) return connections;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Deletes every queue whose name starts with `prefix` (a run's unique prefix),
 * whatever declared it: the packer's stage queues, their dead and wait queues.
 */
export async function deleteQueuesWithPrefix(prefix: string): Promise<void> {
  const out = await rabbitmqctl("list_queues", "-q", "--no-table-headers", "name");
  const names = out.split("\n").filter((name) => name.startsWith(prefix));
  if (names.length === 0) return;
  const connection = await connect(SERVICES.rabbitmq.url);
  try {
    const channel = await connection.createChannel();
    for (const name of names) await channel.deleteQueue(name);
  } finally {
    await connection.close();
  }
}

/**
 * For node:test's `{ skip }`: false when rabbitmqctl answers, else why not
 * (printed). Throws under GAMEDOCK_REQUIRE_SERVICES=1, like the services check.
 */
export async function skipUnlessRabbitmqctl(): Promise<string | false> {
  try {
    await listConnections();
    return false;
  } catch (err) {
    const reason = `rabbitmqctl does not answer (${err instanceof Error ? err.message : String(err)}); the reconnect tests close connections with it`;
    if (process.env.GAMEDOCK_REQUIRE_SERVICES === "1") {
      throw new Error(`GAMEDOCK_REQUIRE_SERVICES=1 but ${reason}`);
    }
    process.stderr.write(`\n!!! SKIPPING: ${reason}\n\n`);
    return reason;
  }
}
