/** File ids: URL-safe, unguessable, sortable by creation time. */
import { randomBytes } from "node:crypto";
import { GamedockError } from "../core/index.js";

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function newFileId(): string {
  return `${Date.now().toString(36)}${randomBytes(12).toString("base64url")}`;
}

export function validateFileId(id: string): string {
  if (!ID.test(id)) {
    throw new GamedockError("E_NOT_FOUND", `no file with id ${JSON.stringify(id)}`, { id });
  }
  return id;
}
