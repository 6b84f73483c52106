import type { Frame } from "./frames.ts";
import type { DialerHandshake, HandshakeAuth, ListenerHandshake, Step } from "./handshake.ts";
import { NodeKey } from "./identity.ts";
import { KeyPins } from "./pins.ts";

/** Test fixtures for the handshake machines (PROTOCOL §3): no sockets. */

export const SECRET = "mesh-secret-0123456789abcdef";

/** A node's handshake credentials: the secret, a fresh identity key and empty pins by default. */
export const auth = (self: string, o: Partial<HandshakeAuth> = {}): HandshakeAuth => ({
  secret: SECRET,
  self,
  key: NodeKey.generate(),
  pins: new KeyPins(),
  ...o,
});

/** Runs both machines; `tamper` may rewrite any frame on the way (an on-path member). */
export function converse(
  d: DialerHandshake,
  l: ListenerHandshake,
  tamper: (f: Frame) => Frame = (f) => f,
): { dialer?: Step; listener?: Step } {
  let toListener: Frame | undefined = tamper(d.hello());
  const out: { dialer?: Step; listener?: Step } = {};
  for (let i = 0; i < 4 && toListener; i++) {
    const ls = l.onFrame(toListener);
    out.listener = ls;
    const toDialer = ls.kind === "send" ? ls.frame : ls.send;
    if (ls.kind === "fail" || !toDialer) break;
    const ds = d.onFrame(tamper(toDialer));
    out.dialer = ds;
    if (ds.kind !== "send") break;
    toListener = tamper(ds.frame);
  }
  return out;
}
