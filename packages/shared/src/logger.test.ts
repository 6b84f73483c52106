import { describe, expect, it } from "vitest";
import Transport from "winston-transport";
import { createLogger } from "./logger.ts";
import { registerSecret } from "./redact.ts";

class Capture extends Transport {
  lines: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void) {
    this.lines.push(JSON.parse(JSON.stringify(info)));
    next();
  }
}

describe("createLogger", () => {
  it("tags lines with the extension and masks secret fields and registered values", () => {
    const cap = new Capture();
    const log = createLogger({ extension: "clawmatrix", transports: [cap], level: "debug" });
    const unregister = registerSecret("mesh-secret-0123456789");
    log.info("dialing with mesh-secret-0123456789", {
      token: "abc123456",
      usage: { prompt_tokens: 12 },
      peer: "node-b",
    });
    unregister();
    const line = cap.lines[0] as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      extension: "clawmatrix",
      peer: "node-b",
      token: "[redacted]",
    });
    expect(line.usage).toEqual({ prompt_tokens: 12 });
    expect(line.message).toBe("dialing with [redacted]");
    expect(JSON.stringify(cap.lines)).not.toContain("abc123456");
  });

  it("bridges to a gateway logger by level, with meta as JSON", () => {
    const got: string[] = [];
    const sink = {
      info: (m: string) => got.push(`info ${m}`),
      warn: (m: string) => got.push(`warn ${m}`),
      error: (m: string) => got.push(`error ${m}`),
    };
    const log = createLogger({ extension: "agent-registry", sink, level: "debug" });
    log.warn("registry unreachable", { url: "http://r", apiKey: "k-123456789" });
    log.debug("no debug on this sink, falls back to info");
    log.child({ peer: "x" }).error("boom");
    expect(got[0]).toBe(
      'warn [agent-registry] registry unreachable {"url":"http://r","apiKey":"[redacted]"}',
    );
    expect(got[1]).toMatch(/^info \[agent-registry\] no debug/);
    expect(got[2]).toBe('error [agent-registry] boom {"peer":"x"}');
  });

  it("survives a throwing sink", () => {
    const sink = {
      info: () => {
        throw new Error("x");
      },
      warn() {},
      error() {},
    };
    expect(() => createLogger({ extension: "x", sink }).info("hi")).not.toThrow();
  });
});
