import { describe, expect, it } from "vitest";
import { deltaText, localAgent } from "./handlers.ts";
import { localGatewayFrom, providerEndpoint } from "./local-gateway.ts";
import { SseReader, SseWireReader } from "./sse.ts";
import { capOutput, normalizeToolName, toolRefusal } from "./tool-policy.ts";

describe("tool policy", () => {
  const policy = { enabled: true, allow: [] as string[], deny: ["exec"], maxOutputBytes: 1024 };
  it("is off unless enabled; deny wins over allow; [] and * allow all", () => {
    expect(toolRefusal("node-b", { ...policy, enabled: false }, "read")).toMatch(
      /tool proxy is off on node-b/,
    );
    expect(toolRefusal("node-b", policy, "exec")).toBe('tool "exec" is denied by node-b\'s toolProxy.deny');
    expect(toolRefusal("node-b", { ...policy, allow: ["exec"] }, "exec")).toMatch(/denied/);
    expect(toolRefusal("node-b", policy, "read")).toBeUndefined();
    expect(toolRefusal("node-b", { ...policy, allow: ["*"] }, "read")).toBeUndefined();
    expect(toolRefusal("node-b", { ...policy, allow: ["read"] }, "write")).toMatch(
      /not in node-b's toolProxy.allow \(read\)/,
    );
  });

  it("serves a shell (exec, process) only when allow names it: never through [] or *", () => {
    const open = { ...policy, deny: [] };
    for (const allow of [[], ["*"], ["read", "*"]])
      for (const name of ["exec", "bash", " Process "])
        expect(toolRefusal("node-b", { ...open, allow }, name), `${name} with ${allow}`).toMatch(
          /runs commands outside the workspace: node-b serves it only when toolProxy.allow names it/,
        );
    expect(toolRefusal("node-b", { ...open, allow: ["exec"] }, "bash")).toBeUndefined();
    expect(toolRefusal("node-b", { ...open, allow: ["*", "process"] }, "process")).toBeUndefined();
    expect(toolRefusal("node-b", { ...open, allow: ["*", "process"] }, "exec")).toMatch(
      /outside the workspace/,
    );
  });

  it("normalizes names as the gateway does (trim, case, aliases) before allow and deny", () => {
    const p = { ...policy, deny: ["exec", "process", " Cron"] };
    for (const name of [" process", "exec\t", "EXEC", "bash", "\tcron\n", "automations"])
      expect(toolRefusal("node-b", p, name), JSON.stringify(name)).toMatch(/denied/);
    expect(toolRefusal("node-b", { ...policy, deny: [], allow: ["read"] }, " read ")).toBeUndefined();
    expect(toolRefusal("node-b", { ...policy, deny: [] }, "   ")).toBe("an empty tool name");
    expect(normalizeToolName("  apply-patch ")).toBe("apply_patch");
  });

  it("caps output at the byte limit on a character boundary, with a marker", () => {
    expect(capOutput("short", 1024)).toEqual({ output: "short", truncated: false });
    const big = "é".repeat(1000); // 2000 bytes
    const r = capOutput(big, 1025);
    expect(r.truncated).toBe(true);
    expect(r.output).toMatch(/^é{512}\n\[clawmatrix: output truncated at 1025 of 2000 bytes\]$/);
  });
});

/** What a wire reader gives for these pieces, one after another, as text. */
const wire = (r: SseWireReader, ...pieces: string[]) =>
  Buffer.concat(pieces.map((p) => r.push(Buffer.from(p)))).toString();

describe("SSE and local endpoints", () => {
  it("yields each event's data as soon as it is complete, across arbitrary splits", () => {
    const r = new SseReader();
    expect(r.push('data: {"a":1}\n')).toEqual([]);
    expect(r.push('\ndata: {"b"')).toEqual(['{"a":1}']);
    expect(r.push(":2}\r\n\r\n: comment\n\ndata: [DONE]\n\n")).toEqual(['{"b":2}', "[DONE]"]);
  });

  it("passes events in wire form on as their bytes came, across any split (CR, LF, CRLF too)", () => {
    const stream = 'data: {"a":1}\n\ndata: {"b":"x€y"}\n\ndata: [DONE]\n\n';
    const bytes = Buffer.from(stream);
    const whole = new SseWireReader().push(bytes);
    expect(whole.buffer).toBe(bytes.buffer); // a slice of what came: not copied
    expect(whole.toString()).toBe(stream);
    for (const input of [stream, stream.replace(/\n/g, "\r\n"), stream.replace(/\n/g, "\r")]) {
      const b = Buffer.from(input);
      for (let cut = 0; cut <= b.length; cut++) {
        const r = new SseWireReader();
        const out = Buffer.concat([r.push(b.subarray(0, cut)), r.push(b.subarray(cut))]);
        expect(out.toString(), `${JSON.stringify(input)} cut at byte ${cut}`).toBe(stream);
      }
    }
    // CR | LF | LF is a CRLF and then an LF; an empty piece between a CR and its LF changes nothing.
    const r = new SseWireReader();
    expect(wire(r, "data: a\r", "", "\n", "\n")).toBe("data: a\n\n");
    // A lone CR read as a line end, then an empty piece: the next LF is a line end of its own.
    expect(wire(new SseWireReader(), "data: a\r", "\n", "\n")).toBe("data: a\n\n");
    expect(wire(new SseWireReader(), "data: a\r", "\r")).toBe("data: a\n\n");
  });

  it("puts other events in wire form: every data line kept, other fields and comments left out", () => {
    const r = new SseWireReader();
    expect(wire(r, ': keep-alive\n\nevent: delta\nid: 7\ndata: {"a":1}\n\n')).toBe('data: {"a":1}\n\n');
    // Two data lines are one event whose data holds a newline: they stay two data lines.
    expect(wire(r, "data: one\ndata:two\n\ndata: three\n\ndata:four\n")).toBe(
      "data: one\ndata: two\n\ndata: three\n\n",
    );
    expect(wire(r, "\n")).toBe("data: four\n\n");
    // Short events, and "data:" without its space, are rewritten too; the bytes around them kept.
    expect(wire(r, "a\n\ndata:x\n\ndata: é\n\n")).toBe("data: x\n\ndata: é\n\n");
    expect(new SseReader().push("data: one\ndata:two\n\n")).toEqual(["one\ntwo"]);
  });

  it("refuses an event over the size bound, naming it", () => {
    const r = new SseWireReader();
    expect(() => wire(r, `data: ${"x".repeat(1024 * 1024 + 1)}`)).toThrow(
      /an SSE event is over 1048576 bytes/,
    );
  });

  it("reads delta text and ignores what is not a content delta", () => {
    expect(deltaText('{"choices":[{"delta":{"content":"hi"}}]}')).toBe("hi");
    expect(deltaText('{"choices":[{"delta":{"role":"assistant"}}]}')).toBe("");
    expect(deltaText("[DONE]")).toBe("");
    expect(deltaText("garbage")).toBe("");
  });

  it("finds the gateway and a provider endpoint from the host config, resolving ${VAR}", () => {
    const config = {
      gateway: { port: 18790, auth: { token: "${GW_TOKEN}" } },
      models: {
        providers: {
          llm: { baseUrl: "http://127.0.0.1:9/v1/", apiKey: "${LLM_KEY}" },
          other: { baseUrl: "x", api: "anthropic" },
        },
      },
    };
    const env = { GW_TOKEN: "gw-secret", LLM_KEY: "llm-secret" };
    expect(localGatewayFrom(config, env)).toEqual({ url: "http://127.0.0.1:18790", token: "gw-secret" });
    expect(providerEndpoint(config, "llm", env)).toEqual({
      url: "http://127.0.0.1:9/v1",
      token: "llm-secret",
    });
    expect(providerEndpoint(config, "other", env)).toBeUndefined();
    expect(providerEndpoint(config, "missing", env)).toBeUndefined();
  });

  it("picks the local agent for a handoff target", () => {
    const config = {
      agents: [
        { id: "main", tags: ["review"] },
        { id: "coder", tags: ["coding"] },
      ],
    } as never;
    expect(localAgent(config, "tags:coding")).toBe("coder");
    expect(localAgent(config, "coder")).toBe("coder");
    expect(localAgent(config, undefined)).toBe("main");
    expect(localAgent({ agents: [] } as never, "x")).toBe("default");
  });
});

describe("clawmatrix status table", () => {
  it("shows the node, then each peer's status, route and latency", async () => {
    const { formatStatus } = await import("../cli.ts");
    const text = formatStatus({
      nodeId: "node-c",
      state: "running",
      tags: ["home"],
      agents: [],
      models: [],
      peers: [
        { nodeId: "node-a", status: "direct", latencyMs: 0.7, tags: ["relay"], agents: ["main"], models: [] },
        {
          nodeId: "node-b",
          status: "relay",
          via: "node-a",
          latencyMs: 1.6,
          tags: ["office"],
          agents: ["main"],
          models: ["mock-model"],
        },
        { nodeId: "node-d", status: "unreachable" },
        { nodeId: "node-e", status: "direct", quiet: true, latencyMs: 2.1, tags: [], agents: [], models: [] },
      ],
    });
    expect(text.split("\n")).toEqual([
      "node node-c  state running",
      "tags home  agents -  models -",
      "",
      "PEER    STATUS            LATENCY  TAGS    AGENTS  MODELS",
      "node-a  direct            0.7 ms   relay   main    -",
      "node-b  relay via node-a  1.6 ms   office  main    mock-model",
      "node-d  unreachable       -        -       -       -",
      "node-e  direct (quiet)    2.1 ms   -       -       -",
    ]);
  });
});
