/**
 * The bus's key names, and the Redis Cluster slot of a key.
 *
 * Every name carries a hash tag — the part between the first "{" and the
 * next "}" — and Redis Cluster places a key by its tag alone. Keys that one
 * call uses together share a tag, so they share a slot:
 *
 * - `{g:<group>}:c2l`                   one logic group's requests
 * - `{gw:<gatewayId>}:l2c`              replies and pushes for one gateway,
 *   `{gw:<gatewayId>}:replied:<msg>`    with the markers that make a reply once
 * - `{gw:<gatewayId>}:status`           its record for the operations API
 * - `{u:<uid>}:history`, `…:presence`   one user's pushes and gateways,
 *   `{u:<uid>}:groups`                  and the application groups it is in
 * - `{a:<group>}:history`               an application group's pushes
 * - `{all}:history`                     pushes to everyone
 * - `{all}:gateways`, `{all}:logic`     gateways ever started (until cleaned
 *                                       up), logic groups with workers
 *
 * Parts are escaped ("%", "{", "}" as %25, %7B, %7D) so that no uid or group
 * can end a tag early or make one name look like another.
 */

const escapePart = (part: string): string =>
  part.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);

export const busKeys = {
  requests: (group: string): string => `{g:${escapePart(group)}}:c2l`,
  gatewayStream: (gatewayId: string): string => `{gw:${escapePart(gatewayId)}}:l2c`,
  gatewayStatus: (gatewayId: string): string => `{gw:${escapePart(gatewayId)}}:status`,
  replied: (gatewayId: string, messageId: string): string =>
    `{gw:${escapePart(gatewayId)}}:replied:${escapePart(messageId)}`,
  userHistory: (uid: string): string => `{u:${escapePart(uid)}}:history`,
  userPresence: (uid: string): string => `{u:${escapePart(uid)}}:presence`,
  userGroups: (uid: string): string => `{u:${escapePart(uid)}}:groups`,
  groupHistory: (group: string): string => `{a:${escapePart(group)}}:history`,
  broadcastHistory: (): string => `{all}:history`,
  gatewayRegistry: (): string => `{all}:gateways`,
  logicGroups: (): string => `{all}:logic`,
};

/** The part of a key Redis Cluster hashes: the first non-empty {…}, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/** CRC16/XMODEM (polynomial 0x1021, initial 0), the checksum Redis Cluster uses. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The Redis Cluster slot (0–16383) of a full key, prefix included. */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTag(key), "utf8")) % 16384;
}
