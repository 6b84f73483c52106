import type { Server } from "node:http";
import express, { type Request, type Response } from "express";
import {
  buildReply,
  type ChatMessage,
  lastUserText,
  openAiError,
  splitChunks,
  sse,
  usageFor,
} from "./protocol.ts";

export interface MockLlmOptions {
  host?: string;
  port?: number;
  name?: string;
  models?: string[];
  /** When set, requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  latencyMs?: number;
  chunkDelayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  model?: string;
  stream: boolean;
  lastUserText: string;
  messagesCount: number;
  toolsCount: number;
  status?: number;
  /** Token usage the mock reported for this request. */
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  aborted?: boolean;
  /** When it arrived: ms since the epoch, sub-millisecond (performance.timeOrigin + now()). */
  at: number;
}

export interface MockLlmBehavior {
  latencyMs?: number;
  chunkDelayMs?: number;
  /** The next `count` (1) chat requests fail with this status. */
  failNext?: { status: number; message?: string; count?: number };
  /** Destroys the socket after this many content chunks of a stream. */
  cutStreamAfterChunks?: number;
}

export interface MockLlm {
  url: string;
  port: number;
  name: string;
  requests: RecordedRequest[];
  setBehavior(b: MockLlmBehavior): void;
  reset(): void;
  close(): Promise<void>;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An OpenAI-compatible chat server with deterministic replies, for gateways under test. */
export async function startMockLlm(opts: MockLlmOptions = {}): Promise<MockLlm> {
  const host = opts.host ?? "127.0.0.1";
  const name = opts.name ?? "mock-llm";
  const models = opts.models ?? ["mock-model"];
  const requests: RecordedRequest[] = [];
  let behavior: MockLlmBehavior = {};
  let counter = 0;
  let failLeft = 0;

  const app = express();
  app.disable("x-powered-by");
  app.use(express.json({ limit: "8mb" }));
  app.use((err: Error & { status?: number }, _req: Request, res: Response, next: (e?: unknown) => void) => {
    if (!err) return next();
    res
      .status(err.status ?? 400)
      .json(
        openAiError(
          `request body is not valid JSON: ${err.message}`,
          "invalid_request_error",
          null,
          "invalid_json",
        ),
      );
  });

  app.get("/healthz", (_req, res) => {
    res.json({ ok: true, name });
  });
  app.get("/_control/requests", (_req, res) => {
    res.json({ requests });
  });
  app.post("/_control/behavior", (req, res) => {
    api.setBehavior(req.body ?? {});
    res.json({ ok: true, behavior });
  });
  app.post("/_control/reset", (_req, res) => {
    api.reset();
    res.json({ ok: true });
  });

  const authorized = (req: Request, res: Response): boolean => {
    if (!opts.apiKey || req.get("authorization") === `Bearer ${opts.apiKey}`) return true;
    res
      .status(401)
      .json(openAiError("invalid or missing API key", "invalid_request_error", null, "invalid_api_key"));
    return false;
  };

  app.get("/v1/models", (req, res) => {
    if (!authorized(req, res)) return;
    const created = Math.floor(Date.now() / 1000);
    res.json({
      object: "list",
      data: models.map((id) => ({ id, object: "model", created, owned_by: name })),
    });
  });

  app.post("/v1/chat/completions", async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
    const tools = Array.isArray(body.tools) ? (body.tools as Array<{ function?: { name?: string } }>) : [];
    const rec: RecordedRequest = {
      method: req.method,
      path: req.path,
      model: typeof body.model === "string" ? body.model : undefined,
      stream: body.stream === true,
      lastUserText: lastUserText(messages),
      messagesCount: messages.length,
      toolsCount: tools.length,
      at: performance.timeOrigin + performance.now(),
    };
    requests.push(rec);
    const fail = (status: number, payload: unknown) => {
      rec.status = status;
      res.status(status).json(payload);
    };
    if (!authorized(req, res)) {
      rec.status = 401;
      return;
    }
    if (messages.length === 0) {
      return fail(
        400,
        openAiError("'messages' must be a non-empty array", "invalid_request_error", "messages", null),
      );
    }
    if (!rec.model || !models.includes(rec.model)) {
      return fail(
        404,
        openAiError(
          `model '${rec.model}' does not exist; served: ${models.join(", ")}`,
          "invalid_request_error",
          "model",
          "model_not_found",
        ),
      );
    }
    const latency = behavior.latencyMs ?? opts.latencyMs ?? 0;
    if (latency > 0) await wait(latency);
    if (failLeft > 0 && behavior.failNext) {
      failLeft--;
      const f = behavior.failNext;
      return fail(
        f.status,
        openAiError(f.message ?? `injected failure ${f.status}`, "server_error", null, "injected"),
      );
    }
    const n = ++counter;
    const toolNames = tools.map((t) => t.function?.name).filter((x): x is string => typeof x === "string");
    const reply = buildReply(name, rec.model, n, messages, toolNames);
    const usage = usageFor(messages, reply);
    rec.usage = usage;
    const id = `chatcmpl-${n}`;
    const created = Math.floor(Date.now() / 1000);
    rec.status = 200;
    if (!rec.stream) {
      res.json({
        id,
        object: "chat.completion",
        created,
        model: rec.model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: reply.toolCalls ? null : reply.text,
              ...(reply.toolCalls ? { tool_calls: reply.toolCalls } : {}),
            },
            finish_reason: reply.finishReason,
          },
        ],
        usage,
      });
      return;
    }
    await streamReply(req, res, rec, { id, created, model: rec.model, reply, usage });
  });

  async function streamReply(
    req: Request,
    res: Response,
    rec: RecordedRequest,
    r: {
      id: string;
      created: number;
      model: string;
      reply: ReturnType<typeof buildReply>;
      usage: ReturnType<typeof usageFor>;
    },
  ) {
    let closed = false;
    res.on("close", () => {
      if (!res.writableFinished) {
        closed = true;
        rec.aborted = true;
      }
    });
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    const chunk = (delta: unknown, finish: string | null = null) => ({
      id: r.id,
      object: "chat.completion.chunk",
      created: r.created,
      model: r.model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    res.write(sse(chunk({ role: "assistant", content: "" })));
    const delay = behavior.chunkDelayMs ?? opts.chunkDelayMs ?? 0;
    const cutAfter = behavior.cutStreamAfterChunks;
    let sent = 0;
    if (r.reply.toolCalls) {
      res.write(sse(chunk({ tool_calls: r.reply.toolCalls.map((c, index) => ({ index, ...c })) })));
    } else {
      for (const piece of splitChunks(r.reply.text)) {
        if (closed) return;
        if (cutAfter !== undefined && sent >= cutAfter) {
          rec.aborted = true;
          req.socket.destroy();
          return;
        }
        if (delay > 0) await wait(delay);
        if (closed) return;
        res.write(sse(chunk({ content: piece })));
        sent++;
      }
    }
    if (closed) return;
    res.write(sse(chunk({}, r.reply.finishReason)));
    res.write(
      sse({
        id: r.id,
        object: "chat.completion.chunk",
        created: r.created,
        model: r.model,
        choices: [],
        usage: r.usage,
      }),
    );
    res.end(sse("[DONE]"));
  }

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  const api: MockLlm = {
    url: `http://${host}:${port}/v1`,
    port,
    name,
    requests,
    setBehavior(b) {
      behavior = { ...b };
      failLeft = b.failNext ? (b.failNext.count ?? 1) : 0;
    },
    reset() {
      requests.length = 0;
      behavior = {};
      failLeft = 0;
      counter = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}
