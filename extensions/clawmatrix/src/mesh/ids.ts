import { randomBytes } from "node:crypto";

// PROTOCOL §2: ids are random, 16+ characters. A random per-process prefix plus a counter keeps
// them unique across nodes and restarts without a crypto call per frame (a tenth of a round
// trip's CPU when every frame drew 12 random bytes).
const PREFIX = randomBytes(9).toString("base64url");
let counter = 0;

/** A fresh frame or request id. */
export function newId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}${counter.toString(36)}`;
}
