import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineConfigSchema, parseList } from "./config.ts";
import { isBundleError } from "./errors.ts";

const def = defineConfigSchema(
  z
    .object({
      secret: z.string().min(16).optional(),
      port: z.number().int().min(1).max(65535).default(19000),
      peers: z.array(z.object({ url: z.string().regex(/^wss?:\/\//) }).strict()).default([]),
    })
    .strict(),
);

describe("defineConfigSchema", () => {
  it("applies defaults to an empty config", () => {
    expect(def.parse({}, "probe")).toEqual({ port: 19000, peers: [] });
    expect(def.parse(undefined, "probe")).toEqual({ port: 19000, peers: [] });
  });

  it("names the key, the expectation and the bad value", () => {
    const r = def.safeParse({ port: "19000", peers: [{ url: "http://x" }] }, "probe");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]).toMatch(/^port: .*number.* \(got "19000"\)$/);
    expect(r.problems[1]).toMatch(/^peers\[0\]\.url: .* \(got "http:\/\/x"\)$/);
    expect(r.message).toMatch(/^invalid probe config: /);
  });

  it("names unknown keys", () => {
    const r = def.safeParse({ bogus: 1, other: 2 }, "probe");
    expect(!r.ok && r.problems).toEqual(['unknown keys "bogus", "other"']);
  });

  it("never echoes a secret value", () => {
    try {
      def.parse({ secret: "short-s3cr3t" }, "probe");
      expect.unreachable();
    } catch (err) {
      expect(isBundleError(err, "CONFIG_ERR_INVALID")).toBe(true);
      expect((err as Error).message).toMatch(/secret: .*16/);
      expect((err as Error).message).not.toContain("short-s3cr3t");
    }
  });

  it("emits a JSON Schema with defaults and no additional properties", () => {
    const js = def.jsonSchema();
    expect(js.additionalProperties).toBe(false);
    expect(js.$schema).toBeUndefined();
    const props = js.properties as Record<string, Record<string, unknown>>;
    expect(props.port).toMatchObject({ type: "integer", default: 19000, minimum: 1, maximum: 65535 });
    expect(props.secret).toMatchObject({ type: "string", minLength: 16 });
    expect(js.required ?? []).not.toContain("port");
    expect((props.peers?.items as Record<string, unknown> | undefined)?.additionalProperties).toBe(false);
  });
});

describe("parseList", () => {
  it("splits, trims and drops empties", () => {
    expect(parseList(" a, b,,c ,")).toEqual(["a", "b", "c"]);
    expect(parseList(undefined)).toEqual([]);
  });
});
