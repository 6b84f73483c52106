import { describe, expect, it } from "vitest";
import { describeFloors, type FrameCosts, floors, frameCosts, relayChunkCosts } from "./frame-costs.ts";

const costs: FrameCosts = { bytes: 100, seal: 5, open: 5, mac: 2, verify: 3, encode: 1, decode: 2 };

describe("round-trip floors", () => {
  it("adds two sealed and opened frames to one echo, and four plus both MACs to two echoes", () => {
    // 1 hop: (40 + 2 * 10) / 40; 2 hops: (80 + 4 * 10 + 2 * 5) / 40.
    expect(floors(costs, 40)).toEqual({ oneHop: 1.5, twoHops: 3.25 });
  });

  it("names each cost and both floors in its line", () => {
    const line = describeFloors(costs, 40, "of the raw ws echo");
    expect(line).toContain("seal 5.0 us, open 5.0 us");
    expect(line).toContain("1 hop >= 1.50x, 2 hops >= 3.25x of the raw ws echo");
  });

  it("times the mesh's own sealing, opening and MACs, each a positive time", () => {
    // frameCosts throws if a sealed frame fails to open or a MAC fails to verify.
    const c = frameCosts(50, 1);
    expect(c.bytes).toBeGreaterThan(50);
    for (const k of ["seal", "open", "mac", "verify", "encode", "decode"] as const)
      expect(c[k]).toBeGreaterThan(0);
  });

  it("times a relay's chunk both ways, the sealed chunk opening each time", () => {
    const r = relayChunkCosts(1, 5);
    expect(r.fast).toBeGreaterThan(0);
    expect(r.decoded).toBeGreaterThan(0);
  });
});
