import { describe, expect, it } from "vitest";
import type { PeerDirectory } from "./peers.ts";
import type { Pilotctl } from "./pilot/pilotctl.ts";
import { PilotTransport } from "./transports.ts";
import { contentId } from "./wire.ts";

/**
 * The product's rule, not a fake's: Pilot clears its whole inbox at once, so PilotTransport.settle
 * may clear it only when every message in it now has been handled. A settle that clears
 * unconditionally loses the messages that were not handled (or arrived since the read).
 */

const msg = (data: string, at = "2026-11-28T20:37:26Z") => ({
  type: "JSON",
  from: "0:0000.0000.0008",
  data,
  bytes: Buffer.byteLength(data),
  received_at: at,
});
const keyOf = (m: ReturnType<typeof msg>) => `pilot:${contentId(m.from, m.received_at, m.data)}`;

function transportWith(inbox: Array<ReturnType<typeof msg>>) {
  const cleared: number[] = [];
  const ctl = {
    inbox: async () => inbox,
    clearInbox: async () => {
      cleared.push(inbox.length);
      return inbox.length;
    },
  } as unknown as Pilotctl;
  const t = new PilotTransport(
    () => ctl,
    () => true,
    {} as PeerDirectory,
  );
  return { t, cleared };
}

describe("PilotTransport.settle", () => {
  const one = msg('{"agent_registry":1,"id":"a","text":"one"}');
  const two = msg('{"agent_registry":1,"id":"b","text":"two"}');

  it("clears the inbox when every message in it has been handled", async () => {
    const { t, cleared } = transportWith([one, two]);
    await t.settle((k) => k === keyOf(one) || k === keyOf(two));
    expect(cleared).toEqual([2]);
  });

  it("leaves the inbox alone while one message in it is not handled", async () => {
    const { t, cleared } = transportWith([one, two]);
    await t.settle((k) => k === keyOf(one));
    expect(cleared).toEqual([]);
  });

  it("leaves a message that arrived after the read: it was never handled", async () => {
    const late = msg("plain text", "2026-11-28T20:37:27Z");
    const { t, cleared } = transportWith([one, late]);
    await t.settle((k) => k === keyOf(one));
    expect(cleared).toEqual([]);
  });

  it("does not clear an empty inbox (the real CLI answers not_found when it has none)", async () => {
    const { t, cleared } = transportWith([]);
    await t.settle(() => true);
    expect(cleared).toEqual([]);
  });
});

describe("PilotTransport.pending", () => {
  it("keys a handshake by node and integer received_at, so a later one from the same node is new", async () => {
    let pending = [{ node_id: 8, justification: "hello", received_at: 1795898236 }];
    const ctl = { pending: async () => pending } as unknown as Pilotctl;
    const peers = {
      byNodeId: async (_id: number, fallback: string) => ({ hostname: fallback, known: false }),
    };
    const t = new PilotTransport(
      () => ctl,
      () => true,
      peers as unknown as PeerDirectory,
    );
    const [first] = await t.pending();
    pending = [{ node_id: 8, justification: "hello again", received_at: 1795898300 }];
    const [later] = await t.pending();
    expect(first?.key).toBe("pilot-hs:8:1795898236");
    expect(later?.key).toBe("pilot-hs:8:1795898300");
  });
});
