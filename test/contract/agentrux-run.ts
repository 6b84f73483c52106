import http from "node:http";
import type { Exchange, Kind } from "./agentrux-exchanges.ts";

/**
 * Runs the scripted exchanges of agentrux-exchanges.ts two ways: as the real client sends them,
 * against a broker (`replay`), and by comparing what the project's client sent through a
 * recording proxy with what the real client sends (`compare`). Each returns the divergences, as
 * sentences naming the step; an empty list is a pass.
 */

export type Context = Record<string, unknown>;
/** The 1.1.0 plugin's User-Agent (openclaw/src/http-client.ts @ a63628c): the edge needs one. */
export const REAL_USER_AGENT = "agentrux-openclaw-plugin/1.x (+node)";

const fill = (v: unknown, ctx: Context): unknown => {
  if (typeof v === "string") {
    const whole = /^\{(\w+)\}$/.exec(v);
    if (whole?.[1] && typeof ctx[whole[1]] !== "string") return ctx[whole[1]];
    return v.replace(/\{(\w+)\}/g, (_, k: string) => String(ctx[k] ?? `{${k}}`));
  }
  if (Array.isArray(v)) return v.map((x) => fill(x, ctx));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, ctx)]));
  return v;
};

export const at = (v: unknown, dotted: string): unknown =>
  dotted
    .split(".")
    .reduce<unknown>(
      (o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined),
      v,
    );

export const kindOf = (v: unknown): Kind | "undefined" =>
  v === null ? "null" : Array.isArray(v) ? "array" : (typeof v as Kind | "undefined");

/** Sends one exchange as the real client would; the divergences of the answer. */
async function send(base: string, x: Exchange, ctx: Context): Promise<string[]> {
  const url = new URL(x.path.startsWith("{") ? String(fill(x.path, ctx)) : `${base}${fill(x.path, ctx)}`);
  for (const [k, v] of Object.entries(x.query ?? {})) url.searchParams.set(k, String(fill(v, ctx)));
  const headers: Record<string, string> = { "user-agent": REAL_USER_AGENT };
  for (const [k, v] of Object.entries(x.headers ?? {})) headers[k] = String(fill(v, ctx));
  if (x.auth) headers.authorization = `Bearer ${ctx.token}`;
  let body: string | Buffer | undefined;
  if (x.body?.kind === "json") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(fill(x.body.fields, ctx));
  } else if (x.body?.kind === "form") {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(fill(x.body.fields, ctx) as Record<string, string>).toString();
  } else if (x.upload) {
    Object.assign(headers, x.upload.headersFrom ? (ctx[x.upload.headersFrom] as Record<string, string>) : {});
    if (x.upload.contentType) headers["content-type"] = x.upload.contentType;
    body = Buffer.from(x.upload.bytes);
  }
  const abort = new AbortController();
  const res = await fetch(url, { method: x.method, headers, body, signal: abort.signal });
  const out: string[] = [];
  const where = `${x.step} (${x.source})`;
  if (res.status !== x.status)
    out.push(`${where}: status ${res.status}, the real client expects ${x.status}`);
  if (x.answerType) {
    if (!(res.headers.get("content-type") ?? "").startsWith(x.answerType))
      out.push(`${where}: content type ${res.headers.get("content-type")}, expected ${x.answerType}`);
    abort.abort(); // a stream: the headers are the answer
    return out;
  }
  const text = await res.text();
  let answer: unknown;
  try {
    answer = text ? JSON.parse(text) : undefined;
  } catch {
    answer = text;
  }
  for (const [p, kind] of Object.entries(x.reads ?? {}))
    if (kindOf(at(answer, p)) !== kind)
      out.push(
        `${where}: ${p} is ${kindOf(at(answer, p))}, the real client reads a ${kind} (${text.slice(0, 200)})`,
      );
  if (x.includesEvent) {
    const list = (at(answer, "items") ?? at(answer, "events")) as Array<{ event_id?: unknown }> | undefined;
    if (!list?.some((e) => e.event_id === ctx[x.includesEvent as string]))
      out.push(`${where}: the answer lacks the newest event ${ctx[x.includesEvent]}`);
  }
  for (const [name, p] of Object.entries(x.keep ?? {})) ctx[name] = at(answer, p);
  return out;
}

export async function replay(base: string, script: Exchange[], ctx: Context): Promise<string[]> {
  const out: string[] = [];
  for (const x of script) out.push(...(await send(base, x, ctx)));
  return out;
}

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A proxy that records every request and passes it on to `target` unchanged. */
export function recordingProxy(
  target: string,
): Promise<{ url: string; seen: Recorded[]; close: () => Promise<void> }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const u = new URL(req.url ?? "/", "http://proxy");
      seen.push({
        method: req.method ?? "",
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        body: body.toString("utf8"),
      });
      const out = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on("error", () => res.destroy());
      res.on("close", () => out.destroy());
      out.end(body);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        seen,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}

/** Query keys whose values are the caller's choice (page sizes and positions). */
const FREE_VALUES = new Set(["limit", "after", "after_sequence_no"]);

/** How one recorded request differs from one exchange (empty: it is the exchange). */
function differences(r: Recorded, x: Exchange): string[] {
  const d: string[] = [];
  const keys = (o: object) => Object.keys(o).sort().join(",");
  if (keys(r.query) !== keys(x.query ?? {}))
    d.push(`query ${keys(r.query)} instead of ${keys(x.query ?? {})}`);
  for (const [k, v] of Object.entries(x.query ?? {}))
    if (!FREE_VALUES.has(k) && !v.includes("{") && r.query[k] !== v)
      d.push(`${k}=${r.query[k]} instead of ${v}`);
  const type = String(r.headers["content-type"] ?? "");
  if (x.body) {
    const want = x.body.kind === "json" ? "application/json" : "application/x-www-form-urlencoded";
    if (!type.startsWith(want)) d.push(`content type ${type || "none"} instead of ${want}`);
    let sent: Record<string, unknown> = {};
    try {
      sent = x.body.kind === "json" ? JSON.parse(r.body) : Object.fromEntries(new URLSearchParams(r.body));
    } catch {
      d.push("a body that does not parse");
    }
    const optional = new Set(x.body.optional ?? []);
    const fields = x.body.fields;
    const missing = Object.keys(fields).filter((k) => !(k in sent) && !optional.has(k));
    const extra = Object.keys(sent).filter((k) => !(k in fields));
    if (missing.length || extra.length)
      d.push(
        `body fields ${keys(sent)} instead of ${keys(fields)} (optional: ${[...optional].join(", ") || "none"})`,
      );
    for (const [k, v] of Object.entries(x.body.fields)) {
      const want = typeof v === "string" && v.startsWith("{") ? "string" : kindOf(v);
      if (k in sent && kindOf(sent[k]) !== want) d.push(`${k} is ${kindOf(sent[k])} instead of ${want}`);
    }
  } else if (r.body.length) d.push(`a body (${r.body.length} bytes) where the real client sends none`);
  for (const h of Object.keys(x.headers ?? {})) if (r.headers[h] === undefined) d.push(`no ${h} header`);
  if (x.auth && !String(r.headers.authorization ?? "").startsWith("Bearer ")) d.push("no bearer token");
  if (!r.headers["user-agent"]) d.push("no User-Agent");
  return d;
}

const pathPattern = (p: string) => new RegExp(`^${p.replace(/\{\w+\}/g, "[^/]+")}$`);

/**
 * Every request the project's client sent must be one of the script's exchanges, sent the same
 * way; every exchange marked `project` must have been sent.
 */
export function compare(seen: Recorded[], script: Exchange[]): string[] {
  const out: string[] = [];
  const used = new Set<Exchange>();
  for (const r of seen) {
    const candidates = script.filter((x) => x.method === r.method && pathPattern(x.path).test(r.path));
    if (candidates.length === 0) {
      out.push(`the project sent ${r.method} ${r.path}, which the real client never sends`);
      continue;
    }
    const diffs = candidates.map((x) => ({ x, d: differences(r, x) }));
    const same = diffs.filter((c) => c.d.length === 0);
    // Exchanges of one shape (a pull after a live cursor and after an expired one) are one request.
    for (const c of same) used.add(c.x);
    if (same.length === 0)
      out.push(
        `the project sent ${r.method} ${r.path}?${new URLSearchParams(r.query)} unlike the real client: ${diffs
          .map((c) => `[${c.x.step}: ${c.d.join("; ")}]`)
          .join(" ")}`,
      );
  }
  for (const x of script)
    if (x.project && !used.has(x)) out.push(`the project never sent "${x.step}" (${x.source})`);
  return out;
}
