import { describe, expect, it } from "vitest";
import { formatAddress, isAddress, MAX_NODE_ID, nodeIdOf, parseAddress } from "./address.ts";

describe("parseAddress", () => {
  it("reads the node id from both hex groups, not just the last one", () => {
    expect(parseAddress("0:0000.0000.37D8")).toEqual({ realm: 0, network: 0, nodeId: 14296 });
    expect(parseAddress("0:0000.1234.5678").nodeId).toBe(0x12345678);
    expect(parseAddress("0:0000.0001.0000").nodeId).toBe(65536);
    expect(parseAddress("0:0000.FFFF.FFFF").nodeId).toBe(MAX_NODE_ID);
  });

  it("reads the network from the first hex group, which the decimal prefix must repeat", () => {
    expect(parseAddress("163:00A3.F291.0004")).toEqual({ realm: 163, network: 0xa3, nodeId: 0xf2910004 });
  });

  it("accepts lower case and surrounding blanks", () => {
    expect(parseAddress("171:00ab.dead.beef")).toEqual({ realm: 171, network: 0xab, nodeId: 0xdeadbeef });
    expect(parseAddress(" 0:0000.0001.0002 ")).toEqual({ realm: 0, network: 0, nodeId: 0x10002 });
  });

  it.each([
    ["", "empty"],
    ["0000.0000.37D8", "no realm"],
    ["0:0000.37D8", "two groups"],
    ["0:0000.0000.0000.37D8", "four groups"],
    ["0:00000.0000.37D8", "five hex digits"],
    ["0:000.0000.0001", "three hex digits (Go's ParseAddr refuses it)"],
    ["0:0.1.2", "short groups"],
    ["2:0001.0000.0001", "prefix and network differ"],
    ["1:00A3.F291.0004", "prefix 1, network 0xA3"],
    ["0:0000.0000.37G8", "not hex"],
    ["0:0000.-001.37D8", "sign"],
    ["x:0000.0000.37D8", "realm not decimal"],
    ["70000:0000.0000.0001", "realm out of range"],
    ["0:0000.0000.37D8:1000", "socket address with a port"],
    ["alpha.local", "hostname"],
  ])("refuses %j (%s), naming the value and the expected form", (bad) => {
    const err = (() => {
      try {
        parseAddress(bad);
      } catch (e) {
        return e as Error & { code?: string };
      }
    })();
    expect(err?.code).toBe("PILOT_ERR_BAD_ADDRESS");
    expect(err?.message).toContain(JSON.stringify(bad));
    expect(err?.message).toContain("N:NNNN.HHHH.LLLL");
    expect(isAddress(bad)).toBe(false);
  });
});

describe("formatAddress", () => {
  it("writes upper-case, zero-padded groups and round-trips", () => {
    expect(formatAddress(14296)).toBe("0:0000.0000.37D8");
    expect(formatAddress(0x12345678)).toBe("0:0000.1234.5678");
    expect(formatAddress(0xdeadbeef, 0xab)).toBe("171:00AB.DEAD.BEEF");
    for (const id of [0, 1, 0xffff, 0x10000, 305419896, MAX_NODE_ID]) {
      expect(parseAddress(formatAddress(id, 7)).nodeId).toBe(id);
    }
  });

  it.each([[-1], [MAX_NODE_ID + 1], [1.5], [Number.NaN]])("refuses node id %s", (id) => {
    expect(() => formatAddress(id)).toThrow(expect.objectContaining({ code: "PILOT_ERR_BAD_ADDRESS" }));
  });

  it("refuses a network or realm out of range", () => {
    expect(() => formatAddress(1, 0x10000)).toThrow(/network 65536/);
  });
});

describe("nodeIdOf", () => {
  it("accepts an address, a decimal id string or a number", () => {
    expect(nodeIdOf("0:0000.1234.5678")).toBe(305419896);
    expect(nodeIdOf("0:0000.0000.37d8")).toBe(14296);
    expect(nodeIdOf("305419896")).toBe(305419896);
    expect(nodeIdOf(" 42 ")).toBe(42);
    expect(nodeIdOf(4294967295)).toBe(MAX_NODE_ID);
  });

  it("returns undefined for hostnames and ids out of range", () => {
    expect(nodeIdOf("alpha")).toBeUndefined();
    expect(nodeIdOf("agent-42.example")).toBeUndefined();
    expect(nodeIdOf("4294967296")).toBeUndefined();
    expect(nodeIdOf(-1)).toBeUndefined();
    expect(nodeIdOf(2.5)).toBeUndefined();
    expect(nodeIdOf("0x10")).toBeUndefined();
    expect(nodeIdOf("")).toBeUndefined();
  });
});
