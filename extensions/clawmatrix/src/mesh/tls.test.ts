import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeSelfSigned } from "../protocol/tls-cert.ts";
import { meshFixture, TEST_SECRET, until } from "./test-fixture.ts";
import { dialOptions, loadListenerTls } from "./tls.ts";

// PROTOCOL §2a over real TLS sockets on loopback: a wss:// link comes up only when the dialer can
// check the listener's certificate, by a pinned fingerprint or by a CA.

const mesh = meshFixture({ handlers: { chat: async (body) => ({ echoed: body }) } });
const { node, lines } = mesh;
const SECRET = TEST_SECRET;
afterEach(mesh.reset);

const cert = makeSelfSigned({ commonName: "node-a", dnsNames: ["localhost"], ips: ["127.0.0.1"] });

async function tlsListener() {
  const a = await node("node-a", { listen: { host: "127.0.0.1", port: 0 }, tls: cert });
  return { a, url: `wss://127.0.0.1:${a.listenPort}` };
}

describe("wss:// links (PROTOCOL §2a)", () => {
  it("come up with the right pin and carry sealed requests", async () => {
    const { a, url } = await tlsListener();
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url, fingerprint: cert.fingerprint }] });
    await until(() => b.links.get("node-a")?.open === true);
    const r = await b.requests.send("node-a", "chat", { hi: 1 });
    expect(r).toEqual({ echoed: { hi: 1 } });
    expect(a.status().tlsFingerprint).toBe(cert.fingerprint);
    expect(
      lines.some((l) =>
        l.includes(`wss://127.0.0.1:${a.listenPort} (certificate sha256=${cert.fingerprint}`),
      ),
    ).toBe(true);
  });

  it("are refused and logged with a wrong pin, and nothing reaches the mesh handshake", async () => {
    // The pin the operator wrote is never echoed back (only the certificate's own fingerprint).
    const { a, url } = await tlsListener();
    const wrong = "0".repeat(64);
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url, fingerprint: wrong }] });
    await until(() => b.counters.authFailures > 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(b.links.size).toBe(0);
    expect(a.links.size).toBe(0);
    const err = b.status().peers.find((p) => p.nodeId === "node-a") as { lastError?: string };
    expect(err.lastError).toContain(`TLS certificate sha256=${cert.fingerprint} is not the pinned one`);
    expect(lines.some((l) => l.includes("is not the pinned one") && !l.includes(SECRET))).toBe(true);
    // The listener never saw a mesh hello: no handshake failure counted on its side.
    expect(a.counters.authFailures).toBe(0);
  });

  it("are not dialed with no pin and no CA, saying why", async () => {
    const { a, url } = await tlsListener();
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url }] });
    await until(() => lines.some((l) => l.includes("not dialed")));
    await new Promise((r) => setTimeout(r, 200));
    expect(b.links.size).toBe(0);
    expect(a.status().pendingHandshakes).toBe(0);
    const err = b.status().peers.find((p) => p.nodeId === "node-a") as { lastError?: string };
    expect(err.lastError).toMatch(/no pinned fingerprint .* and no CA/);
  });

  it("verify by a CA (chain and host name) when there is no pin", async () => {
    const { a } = await tlsListener();
    const ok = await node("node-b", {
      tlsCa: cert.cert,
      peers: [{ nodeId: "node-a", url: `wss://localhost:${a.listenPort}` }],
    });
    await until(() => ok.links.get("node-a")?.open === true);
    const other = makeSelfSigned({ commonName: "other", dnsNames: ["localhost"] });
    const bad = await node("node-c", {
      tlsCa: other.cert,
      peers: [{ nodeId: "node-a", url: `wss://localhost:${a.listenPort}` }],
    });
    await until(
      () =>
        (bad.status().peers.find((p) => p.nodeId === "node-a") as { lastError?: string })?.lastError !==
        undefined,
    );
    expect(bad.links.size).toBe(0);
  });

  it("a plain ws:// dialer cannot talk to a TLS listener, and stays refused", async () => {
    const { a } = await tlsListener();
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.listenPort}` }] });
    await until(
      () =>
        (b.status().peers.find((p) => p.nodeId === "node-a") as { lastError?: string })?.lastError !==
        undefined,
    );
    expect(b.links.size).toBe(0);
  });

  it("a TLS listener still caps pending handshakes and releases slots on adoption", async () => {
    const { a, url } = await tlsListener();
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url, fingerprint: cert.fingerprint }] });
    await until(() => b.links.get("node-a")?.open === true);
    expect(a.status().pendingHandshakes).toBe(0);
    const s = net.connect(a.listenPort as number, "127.0.0.1");
    await until(() => a.status().pendingHandshakes === 1);
    s.destroy();
    await until(() => a.status().pendingHandshakes === 0);
  });
});

describe("listener TLS material", () => {
  it("a self-signed certificate is made once in the state volume and kept", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cm-tls-"));
    const first = loadListenerTls({ selfSigned: true }, dir, "node-a");
    expect(first?.created).toBe(true);
    expect(statSync(path.join(dir, "clawmatrix", "tls-key.pem")).mode & 0o777).toBe(0o600);
    const again = loadListenerTls({ selfSigned: true }, dir, "node-a");
    expect(again?.created).toBe(false);
    expect(again?.tls.fingerprint).toBe(first?.tls.fingerprint);
    expect(loadListenerTls({}, dir, "node-a")).toBeUndefined();
  });

  it("files are checked: readable, PEM, and a key that belongs to the certificate", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cm-tls-"));
    const other = makeSelfSigned({ commonName: "other" });
    const f = (n: string, text: string) => {
      writeFileSync(path.join(dir, n), text);
      return path.join(dir, n);
    };
    const certFile = f("c.pem", cert.cert);
    expect(loadListenerTls({ certFile, keyFile: f("k.pem", cert.key) }, dir, "x")?.tls.fingerprint).toBe(
      cert.fingerprint,
    );
    expect(() => loadListenerTls({ certFile }, dir, "x")).toThrow(/both a certificate file and a key file/);
    expect(() => loadListenerTls({ certFile, keyFile: path.join(dir, "missing") }, dir, "x")).toThrow(
      /cannot read the mesh TLS key .*missing: ENOENT/,
    );
    expect(() => loadListenerTls({ certFile, keyFile: f("o.pem", other.key) }, dir, "x")).toThrow(
      /is not the private key of the certificate/,
    );
    const garbage = f("g.pem", "not a certificate");
    expect(() => loadListenerTls({ certFile: garbage, keyFile: f("k2.pem", cert.key) }, dir, "x")).toThrow(
      /g\.pem is not a PEM certificate/,
    );
    // The key's content never appears in an error.
    try {
      loadListenerTls({ certFile, keyFile: f("bad-key.pem", "secret-material-xyz") }, dir, "x");
    } catch (err) {
      expect((err as Error).message).not.toContain("secret-material-xyz");
    }
    expect(readFileSync(certFile, "utf8")).toBe(cert.cert);
  });

  it("dial options: ws:// needs nothing, wss:// a pin or a CA", () => {
    expect(dialOptions("ws://h:1", undefined, undefined)).toEqual({ ok: true, options: {} });
    expect(dialOptions("wss://h:1", undefined, undefined).ok).toBe(false);
    expect(dialOptions("wss://h:1", undefined, "CA")).toEqual({
      ok: true,
      options: { ca: "CA", rejectUnauthorized: true },
    });
    const pinned = dialOptions("wss://h:1", "ab".repeat(32), "CA");
    expect(pinned.ok && typeof pinned.options.createConnection).toBe("function");
  });
});
