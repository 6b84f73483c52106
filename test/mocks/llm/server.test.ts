import { afterEach, describe, expect, it } from "vitest";
import { splitChunks } from "./protocol.ts";
import { type MockLlm, startMockLlm } from "./server.ts";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are inspected loosely in assertions
type Any = any;

let llm: MockLlm | undefined;
afterEach(async () => {
  await llm?.close();
  llm = undefined;
});

async function chat(base: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

async function sseEvents(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.startsWith("data: "))
    .map((b) => b.slice(6));
}

describe("mock LLM", () => {
  it("answers deterministically with a counter and usage", async () => {
    llm = await startMockLlm({ name: "llm-t" });
    const r1 = (await (
      await chat(llm.url, { model: "mock-model", messages: [{ role: "user", content: "hello there" }] })
    ).json()) as Any;
    const r2 = (await (
      await chat(llm.url, {
        model: "mock-model",
        messages: [{ role: "user", content: [{ type: "text", text: "again" }] }],
      })
    ).json()) as Any;
    expect(r1.choices[0].message.content).toBe("[llm-t] mock-model reply #1: hello there");
    expect(r2.choices[0].message.content).toBe("[llm-t] mock-model reply #2: again");
    expect(r1.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
    expect(llm.requests.map((r) => r.lastUserText)).toEqual(["hello there", "again"]);
  });

  it("streams word chunks that concatenate to the full reply, then usage and [DONE]", async () => {
    llm = await startMockLlm({ name: "s" });
    const res = await chat(llm.url, {
      model: "mock-model",
      stream: true,
      messages: [{ role: "user", content: "one two three" }],
    });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe("[s] mock-model reply #1: one two three");
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBe(splitChunks(text).length);
    expect(chunks.at(-1).usage.completion_tokens).toBe(7);
    expect(chunks.at(-2).choices[0].finish_reason).toBe("stop");
  });

  it("makes a tool call when asked and echoes the tool result", async () => {
    llm = await startMockLlm({ name: "t" });
    const tools = [{ type: "function", function: { name: "read_file", parameters: {} } }];
    const r1 = (await (
      await chat(llm.url, {
        model: "mock-model",
        tools,
        messages: [{ role: "user", content: 'MOCK_TOOL_CALL read_file {"path":"/x"}' }],
      })
    ).json()) as Any;
    expect(r1.choices[0].finish_reason).toBe("tool_calls");
    expect(r1.choices[0].message.tool_calls[0].function).toEqual({
      name: "read_file",
      arguments: '{"path":"/x"}',
    });
    const r2 = (await (
      await chat(llm.url, {
        model: "mock-model",
        tools,
        messages: [
          { role: "user", content: "MOCK_TOOL_CALL read_file" },
          { role: "assistant", tool_calls: r1.choices[0].message.tool_calls },
          { role: "tool", tool_call_id: "call_1", content: "file body" },
        ],
      })
    ).json()) as Any;
    expect(r2.choices[0].message.content).toBe("[t] mock-model tool result: file body");
  });

  it("refuses bad requests naming the field or model, and a wrong key", async () => {
    llm = await startMockLlm({ apiKey: "k-123456" });
    const auth = { authorization: "Bearer k-123456" };
    const noMsgs = await chat(llm.url, { model: "mock-model", messages: [] }, auth);
    expect(noMsgs.status).toBe(400);
    expect(((await noMsgs.json()) as Any).error).toMatchObject({ param: "messages" });
    const badModel = await chat(
      llm.url,
      { model: "gpt-9", messages: [{ role: "user", content: "x" }] },
      auth,
    );
    expect(badModel.status).toBe(404);
    expect(((await badModel.json()) as Any).error.message).toMatch(/gpt-9.*mock-model/);
    const noKey = await chat(llm.url, { model: "mock-model", messages: [{ role: "user", content: "x" }] });
    expect(noKey.status).toBe(401);
    const badJson = await fetch(`${llm.url}/chat/completions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: "{",
    });
    expect(badJson.status).toBe(400);
  });

  it("fails the next N requests on demand, then recovers; control over HTTP works", async () => {
    llm = await startMockLlm();
    const base = llm.url.replace(/\/v1$/, "");
    await fetch(`${base}/_control/behavior`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ failNext: { status: 503, count: 2 } }),
    });
    const body = { model: "mock-model", messages: [{ role: "user", content: "x" }] };
    expect((await chat(llm.url, body)).status).toBe(503);
    expect((await chat(llm.url, body)).status).toBe(503);
    expect((await chat(llm.url, body)).status).toBe(200);
    const recorded = ((await (await fetch(`${base}/_control/requests`)).json()) as Any).requests;
    expect(recorded.map((r: { status: number }) => r.status)).toEqual([503, 503, 200]);
    await fetch(`${base}/_control/reset`, { method: "POST" });
    expect(llm.requests).toHaveLength(0);
  });

  it("marks a stream the client abandons as aborted, and cuts streams on demand", async () => {
    llm = await startMockLlm({ chunkDelayMs: 30 });
    const res = await chat(llm.url, {
      model: "mock-model",
      stream: true,
      messages: [{ role: "user", content: "a b c d e f g h" }],
    });
    const reader = res.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    await new Promise((r) => setTimeout(r, 150));
    expect(llm.requests[0]?.aborted).toBe(true);

    llm.setBehavior({ cutStreamAfterChunks: 2 });
    const cut = await chat(llm.url, {
      model: "mock-model",
      stream: true,
      messages: [{ role: "user", content: "a b c d" }],
    });
    await expect(cut.text()).rejects.toThrow();
  });

  it("lists its models", async () => {
    llm = await startMockLlm({ name: "m", models: ["a", "b"] });
    const list = (await (await fetch(`${llm.url}/models`)).json()) as Any;
    expect(list.data.map((m: { id: string }) => m.id)).toEqual(["a", "b"]);
  });
});

describe("lastUserText", () => {
  it("skips OpenClaw's internal runtime context blocks", async () => {
    const { lastUserText } = await import("./protocol.ts");
    const ctx =
      "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nActive exec sessions: none\n<<<END_OPENCLAW_INTERNAL_CONTEXT>>>";
    expect(
      lastUserText([
        { role: "user", content: `${ctx}\n\nplease echo x` },
        { role: "user", content: ctx },
      ]),
    ).toBe("please echo x");
  });
});
