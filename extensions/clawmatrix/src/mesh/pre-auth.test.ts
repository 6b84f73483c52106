import net from "node:net";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { escapeText } from "./admission.ts";
import { MeshNode, type MeshNodeOptions } from "./node.ts";

// PROTOCOL §1 "Limits before authentication", with real sockets on loopback: what a stranger
// without the secret can hold on a listening node.

const SECRET = "mesh-secret-0123456789abcdef";
const nodes: MeshNode[] = [];
const sockets: net.Socket[] = [];
const lines: string[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  lines.length = 0;
});

const sink = {
  debug: () => {},
  info: (m: string) => lines.push(m),
  warn: (m: string) => lines.push(m),
  error: (m: string) => lines.push(m),
};

async function listener(limits: MeshNodeOptions["limits"] = {}): Promise<MeshNode> {
  const n = new MeshNode({
    nodeId: "node-a",
    secret: SECRET,
    listen: { host: "127.0.0.1", port: 0 },
    peers: [],
    state: { agents: [], models: [], tags: [], toolProxy: false },
    handlers: {},
    logger: createLogger({ extension: "clawmatrix-a", sink, level: "debug" }),
    limits,
  });
  nodes.push(n);
  await n.start();
  return n;
}

function connect(port: number, localAddress = "127.0.0.1"): net.Socket {
  const s = net.connect({ port, host: "127.0.0.1", localAddress });
  s.on("error", () => {});
  sockets.push(s);
  return s;
}

/** A WebSocket upgrade done by hand, so the test controls every byte after it. */
async function upgraded(port: number): Promise<net.Socket> {
  const s = connect(port);
  s.write(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  await new Promise<void>((resolve, reject) => {
    s.once("data", (d) => (/^HTTP\/1\.1 101/.test(d.toString()) ? resolve() : reject(new Error(`${d}`))));
  });
  return s;
}

/** A masked client text frame header announcing `length` bytes. */
function frameHeader(length: number): Buffer {
  const h = Buffer.alloc(14);
  h[0] = 0x81;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h; // last 4 bytes: a zero mask
}

function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("PROTOCOL §1 limits before authentication", () => {
  it("cuts a half-sent big frame at its header, long before the handshake deadline", async () => {
    const a = await listener();
    const s = await upgraded(a.listenPort as number);
    s.write(frameHeader(3_900_000));
    s.write(Buffer.alloc(1000, 0x61));
    expect(await closedWithin(s, 1500)).toBe(true);
  });

  it("destroys a silent upgraded socket at the deadline, even one that ignores the close frame", async () => {
    const a = await listener({ handshakeTimeoutMs: 300 });
    const s = await upgraded(a.listenPort as number);
    const t0 = Date.now();
    // The socket never answers a close frame; ws alone would hold it for 30 s.
    expect(await closedWithin(s, 2000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("destroys a TCP connection that never sends an HTTP request", async () => {
    const a = await listener({ handshakeTimeoutMs: 300 });
    expect(await closedWithin(connect(a.listenPort as number), 2500)).toBe(true);
  });

  it("caps pending handshakes per address and in total, and sums refusals in one line", async () => {
    const a = await listener({ maxPending: 5, maxPendingPerAddress: 3, refusalLogIntervalMs: 1500 });
    const port = a.listenPort as number;
    const first = Array.from({ length: 6 }, () => connect(port, "127.0.0.1"));
    const fromOther = Array.from({ length: 4 }, () => connect(port, "127.0.0.2"));
    const closed = await Promise.all([...first, ...fromOther].map((s) => closedWithin(s, 600)));
    // 3 held from .1 (3 refused: per address), 2 from .2 (then the total of 5: 2 refused).
    expect(closed.slice(0, 6).filter(Boolean)).toHaveLength(3);
    expect(closed.slice(6).filter(Boolean)).toHaveLength(2);
    await until(() => lines.some((l) => /refused 5 mesh connection/.test(l)), 4000);
    const summary = lines.filter((l) => /refused \d+ mesh connection/.test(l));
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatch(/too many pending handshakes from one address 3/);
    expect(summary[0]).toMatch(/too many pending handshakes 2/);
    // A slot comes back when its socket closes.
    for (const s of first) s.destroy();
    await until(() => a.status().pendingHandshakes === 2);
    expect(await closedWithin(connect(port, "127.0.0.1"), 300)).toBe(false);
  });

  it("escapes attacker text in the summary line (no raw newline reaches the log)", async () => {
    const a = await listener({ refusalLogIntervalMs: 200 });
    const s = await upgraded(a.listenPort as number);
    const payload = Buffer.from('{"t":"x\\nFORGED line"}');
    const h = Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]);
    s.write(Buffer.concat([h, payload]));
    await until(() => lines.some((l) => /refused 1 mesh connection/.test(l)), 3000);
    const line = lines.find((l) => /refused 1 mesh connection/.test(l)) as string;
    expect(line).not.toMatch(/\n/);
    expect(line).toContain("x\\u000aFORGED line");
    expect(escapeText("a\r\nb\u2028\\")).toBe("a\\u000d\\u000ab\\u2028\\\\");
  });
});
