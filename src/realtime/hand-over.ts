/**
 * Handing something to the gateways that hold a presence entry (a uid, an
 * application group, every live gateway): one bus entry per gateway, the
 * envelope encoded once, whatever the number of connections behind them.
 */
import { busKeys, type Bus } from "../bus/index.js";
import { encodeEnvelope, type GatewayEnvelope } from "./envelope.js";

/** Appends the envelope to the stream of each gateway the presence entry names; returns how many. */
export async function handOver(
  bus: Bus,
  presenceName: string,
  envelope: GatewayEnvelope,
): Promise<number> {
  const gateways = (await bus.presence([presenceName])).get(presenceName) ?? [];
  const encoded = encodeEnvelope(envelope);
  await Promise.all(gateways.map((gateway) => bus.append(busKeys.gatewayStream(gateway), encoded)));
  return gateways.length;
}
