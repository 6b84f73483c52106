import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PersistedSet } from "./persisted-set.ts";

const tmp = () => path.join(mkdtempSync(path.join(os.tmpdir(), "pset-")), "sub", "seen.json");

describe("PersistedSet", () => {
  it("remembers keys across instances, at most capacity, newest kept", async () => {
    const file = tmp();
    const a = new PersistedSet(file, 3);
    for (const k of ["a", "b", "c", "d"]) a.add(k);
    expect(a.add("d")).toBe(false);
    await a.save();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const b = new PersistedSet(file, 3);
    await b.load();
    expect(["a", "b", "c", "d"].map((k) => b.has(k))).toEqual([false, true, true, true]);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(["b", "c", "d"]);
  });

  it("starts over when the file is not a list of keys", async () => {
    const file = tmp();
    const a = new PersistedSet(file, 3);
    a.add("x");
    await a.save();
    writeFileSync(file, '{"not":"a list"}');
    const b = new PersistedSet(file, 3);
    await b.load();
    expect(b.size).toBe(0);
    writeFileSync(file, "garbage{");
    await b.load();
    expect(b.has("x")).toBe(false);
  });
});
