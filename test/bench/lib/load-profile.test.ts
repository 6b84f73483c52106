import { describe, expect, it } from "vitest";
import { parseLoadProfile, pluginTotalMs } from "./load-profile.ts";

describe("parseLoadProfile", () => {
  it("sums the host's profile lines per plugin and phase, in the documented field order", () => {
    const text = [
      "2026-11-29T04:00:00Z gateway starting",
      "[plugin-load-profile] phase=runtime-module plugin=clawmatrix elapsedMs=12.5 source=/x/dist/index.js",
      "[plugin-load-profile] phase=register plugin=clawmatrix elapsedMs=3.0 mode=full source=/x/dist/index.js",
      "[plugin-load-profile] phase=runtime-module plugin=clawmatrix elapsedMs=10.0 source=/x/dist/index.js",
      "prefix [plugin-load-profile] phase=runtime-module plugin=(core) elapsedMs=1 source=core",
    ].join("\n");
    const p = parseLoadProfile(text);
    expect([...(p.byPlugin.get("clawmatrix") ?? [])]).toEqual([
      ["runtime-module", 22.5],
      ["register", 3],
    ]);
    expect(pluginTotalMs(p, "clawmatrix")).toBe(25.5);
    expect(pluginTotalMs(p, "(core)")).toBe(1);
    expect(pluginTotalMs(p, "agentrux-openclaw-plugin")).toBe(0);
    expect(p.unparsed).toBe(0);
  });

  it("counts lines in another format instead of reading wrong figures from them", () => {
    const p = parseLoadProfile(
      "[plugin-load-profile] plugin=clawmatrix phase=register elapsedMs=3 source=s\n" +
        "[plugin-load-profile] phase=register plugin=clawmatrix elapsedMs=fast source=s",
    );
    expect(p.unparsed).toBe(2);
    expect(p.byPlugin.size).toBe(0);
  });
});
