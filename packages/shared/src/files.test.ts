import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readJsonFile, writeFileAtomic, writeFileAtomicSync, writeJsonAtomic } from "./atomic-file.ts";
import { BoundedSet } from "./dedup.ts";
import { latestOnly, SingleFlight } from "./single-flight.ts";

const writers = {
  writeFileAtomic,
  writeFileAtomicSync: async (...a: Parameters<typeof writeFileAtomicSync>) => writeFileAtomicSync(...a),
};

describe.each(Object.entries(writers))("%s", (_name, write) => {
  it("writes with the requested mode and leaves no temp file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "atomic-"));
    const file = path.join(dir, "sub", "auth.json");
    await write(file, '{"a":1}', { mode: 0o600 });
    await write(file, '{"a":2}', { mode: 0o600 });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ a: 2 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(file))).toEqual(["auth.json"]);
  });

  it("keeps the old content when the write fails", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "atomic-"));
    const file = path.join(dir, "x.json");
    writeFileSync(file, "old");
    const blocker = path.join(dir, "file-not-dir");
    writeFileSync(blocker, "");
    await expect(write(path.join(blocker, "y"), "new")).rejects.toMatchObject({
      code: "FILE_ERR_WRITE",
    });
    expect(readFileSync(file, "utf8")).toBe("old");
  });
});

describe("atomic JSON", () => {
  it("writeJsonAtomic writes 2-space JSON with a trailing newline", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "atomic-")), "v.json");
    await writeJsonAtomic(file, { a: 1 });
    expect(readFileSync(file, "utf8")).toBe('{\n  "a": 1\n}\n');
  });

  it("readJsonFile: undefined when missing, an error naming the file when broken", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "atomic-"));
    expect(await readJsonFile(path.join(dir, "none.json"))).toBeUndefined();
    writeFileSync(path.join(dir, "bad.json"), "{");
    await expect(readJsonFile(path.join(dir, "bad.json"))).rejects.toThrow(/bad\.json is not valid JSON/);
  });
});

describe("SingleFlight", () => {
  it("runs one call per key at a time and a fresh one afterwards", async () => {
    const sf = new SingleFlight<string, number>();
    let calls = 0;
    const fn = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return calls;
    };
    const results = await Promise.all([sf.run("k", fn), sf.run("k", fn), sf.run("other", fn)]);
    expect(results[0]).toBe(results[1]);
    expect(calls).toBe(2);
    expect(await sf.run("k", fn)).toBe(3);
    expect(sf.size).toBe(0);
  });

  it("shares a failure and then allows a retry", async () => {
    const sf = new SingleFlight<string, number>();
    const fail = () => Promise.reject(new Error("down"));
    await expect(Promise.all([sf.run("k", fail), sf.run("k", fail)])).rejects.toThrow("down");
    expect(await sf.run("k", async () => 7)).toBe(7);
  });
});

describe("latestOnly", () => {
  it("runs one save at a time, one more for every burst during it, each with the state of its start", async () => {
    let state = 0;
    const saved: number[] = [];
    let active = 0;
    let maxActive = 0;
    const save = latestOnly(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      const snapshot = state;
      await new Promise((r) => setTimeout(r, 10));
      saved.push(snapshot);
      active--;
    });
    state = 1;
    const first = save();
    const during: Promise<void>[] = [];
    for (let i = 2; i <= 5; i++) {
      state = i;
      during.push(save());
    }
    await first;
    expect(saved).toEqual([1]);
    await Promise.all(during);
    // Four calls during the first save share one more, which wrote the newest state.
    expect(saved).toEqual([1, 5]);
    expect(maxActive).toBe(1);
    state = 6;
    await save();
    expect(saved).toEqual([1, 5, 6]);
  });

  it("hands each caller its own save's failure, and saves again after one", async () => {
    let fail = true;
    let runs = 0;
    const save = latestOnly(async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error("disk full");
    });
    const first = save();
    const second = save();
    await expect(first).rejects.toThrow("disk full");
    fail = false;
    await expect(second).resolves.toBeUndefined();
    expect(runs).toBe(2);
  });
});

describe("BoundedSet", () => {
  it("reports duplicates and evicts the oldest beyond capacity", () => {
    const s = new BoundedSet<string>(2);
    expect(s.add("a")).toBe(true);
    expect(s.add("a")).toBe(false);
    s.add("b");
    s.add("c");
    expect(s.has("a")).toBe(false);
    expect(s.size).toBe(2);
  });

  it("keeps exactly the newest `capacity` keys over many wrap-arounds, and a re-added key its full time", () => {
    const s = new BoundedSet<number>(100);
    for (let i = 0; i < 10_000; i++) s.add(i);
    expect(s.size).toBe(100);
    expect(s.has(9_899)).toBe(false);
    expect(s.has(9_900)).toBe(true);
    // delete + add: the stale slot of the first add must not evict the second one early.
    s.delete(9_950);
    s.add(9_950);
    for (let i = 0; i < 60; i++) s.add(20_000 + i);
    expect(s.has(9_950)).toBe(true);
  });

  it("forgets keys after their ttl", () => {
    let now = 0;
    const s = new BoundedSet<string>(10, { ttlMs: 100, now: () => now });
    s.add("a");
    now = 50;
    s.add("b");
    now = 120;
    expect(s.has("a")).toBe(false);
    expect(s.has("b")).toBe(true);
  });
});
