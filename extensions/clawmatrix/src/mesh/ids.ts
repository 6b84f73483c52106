import { randomBytes } from "node:crypto";

/** A fresh frame or request id (PROTOCOL §2: random, 16 characters). */
export function newId(): string {
  return randomBytes(12).toString("base64url");
}
