import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { chatCompletions, type LocalGateway } from "./local-gateway.ts";

// A streamed chat completion from a model or the local gateway, over loopback: what node-b's
// `chat` handler reads and passes on to the mesh (PROTOCOL §7).

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(
  handle: (req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) => void,
): Promise<LocalGateway> {
  const server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      text += d;
    });
    req.on("end", () => handle(req, res, JSON.parse(text) as Record<string, unknown>));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: "tok-1" };
}

const stream = (gw: LocalGateway, signal: AbortSignal) => {
  const pieces: string[] = [];
  const done = chatCompletions(gw, { model: "m" }, { "x-extra": "1" }, signal, {
    wire: (w) => pieces.push(w.toString()),
  });
  return { pieces, done };
};

describe("a streamed chat completion", () => {
  it("asks with stream, the token and the headers, and passes events on whole, a split character joined", async () => {
    let seen: { body?: unknown; auth?: string; extra?: string } = {};
    const gw = await serve((req, res, body) => {
      seen = { body, auth: req.headers.authorization, extra: req.headers["x-extra"] as string };
      res.writeHead(200, { "content-type": "text/event-stream" });
      const euro = Buffer.from("data: 1€\n\n"); // "€" is 3 bytes: the first write ends inside it
      res.write(euro.subarray(0, 9));
      setTimeout(() => res.end(Buffer.concat([euro.subarray(9), Buffer.from("data: [DONE]\n\n")])), 20);
    });
    const s = stream(gw, new AbortController().signal);
    await expect(s.done).resolves.toBeUndefined();
    expect(s.pieces.join("")).toBe("data: 1€\n\ndata: [DONE]\n\n");
    expect(seen).toEqual({ body: { model: "m", stream: true }, auth: "Bearer tok-1", extra: "1" });
  });

  it("names the status and the start of the body when the endpoint refuses", async () => {
    const gw = await serve((_req, res) => {
      res.writeHead(429, { "content-type": "text/plain" });
      res.end(`rate limited${"!".repeat(2000)}`);
    });
    await expect(stream(gw, new AbortController().signal).done).rejects.toThrow(
      /^the local gateway answered \/v1\/chat\/completions with 429: rate limited!{488}$/,
    );
  });

  it("fails as UPSTREAM when the stream is cut, after passing on what came before", async () => {
    const gw = await serve((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: a\n\n");
      setTimeout(() => req.socket.destroy(), 20);
    });
    const s = stream(gw, new AbortController().signal);
    await expect(s.done).rejects.toMatchObject({ code: "MESH_ERR_UPSTREAM" });
    await expect(s.done).rejects.toThrow(/stream broke/);
    expect(s.pieces).toEqual(["data: a\n\n"]);
  });

  it("fails as UPSTREAM when nothing listens, and as CANCELLED when the caller aborts", async () => {
    const gone = await serve(() => {});
    await new Promise((r) => (servers.pop() as Server).close(r));
    await expect(stream(gone, new AbortController().signal).done).rejects.toThrow(
      /^the local gateway did not answer \/v1\/chat\/completions: /,
    );
    const gw = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: a\n\n"); // and never ends
    });
    const abort = new AbortController();
    const s = stream(gw, abort.signal);
    setTimeout(() => abort.abort(), 50);
    await expect(s.done).rejects.toMatchObject({ code: "MESH_ERR_CANCELLED" });
  });
});
