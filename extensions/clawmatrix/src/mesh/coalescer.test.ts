import { describe, expect, it } from "vitest";
import { Coalescer } from "./coalescer.ts";

// Issue 17: pieces of a stream merged while the way out is busy. The way out is scripted here:
// `ready()` is the moment the last send drained; nothing waits on sockets or timers.

function scripted(maxSize = 1000, size?: (d: string) => number) {
  const sent: string[] = [];
  const waits: Array<{ ready: () => void; cancelled: boolean }> = [];
  const c = new Coalescer({
    send: (d) => sent.push(d),
    whenReady: (ready) => {
      const w = { ready, cancelled: false };
      waits.push(w);
      return () => {
        w.cancelled = true;
      };
    },
    maxSize,
    ...(size ? { size } : {}),
  });
  /** The current wait ends: the way out drained. */
  const drain = () => {
    const w = waits.at(-1);
    if (w && !w.cancelled) w.ready();
  };
  return { c, sent, waits, drain };
}

describe("Coalescer", () => {
  it("sends the first piece at once, and a piece that finds the way out idle at once too", () => {
    const { c, sent, drain } = scripted();
    c.push("first");
    expect(sent).toEqual(["first"]);
    drain(); // nothing was pending: the way out is idle again
    c.push("second");
    expect(sent).toEqual(["first", "second"]);
  });

  it("merges a burst that comes while the last send has not drained into one piece, in order", () => {
    const { c, sent, drain } = scripted();
    c.push("a");
    for (const p of ["b", "c", "d"]) c.push(p);
    expect(sent).toEqual(["a"]);
    expect(c.pending).toBe(true);
    drain();
    expect(sent).toEqual(["a", "bcd"]);
    c.push("e"); // the merged piece has not drained yet
    drain();
    expect(sent).toEqual(["a", "bcd", "e"]);
    expect([c.pushed, c.sent]).toEqual([5, 3]);
  });

  it("never lets a merged piece grow past maxSize: a full one goes out first, order kept", () => {
    const { c, sent, drain } = scripted(5);
    c.push("aa");
    for (const p of ["bbb", "cc", "d", "eeeee", "ffffff", "g"]) c.push(p);
    drain();
    drain();
    expect(sent.join("")).toBe("aabbbccdeeeeeffffffg");
    expect(sent).toEqual(["aa", "bbbcc", "d", "eeeee", "ffffff", "g"]);
    // Only a piece that alone is over the bound (it came that big) is over it.
    for (const s of sent) if (s !== "ffffff") expect(s.length).toBeLessThanOrEqual(5);
  });

  it("counts size with the given measure", () => {
    const { c, sent, drain } = scripted(12, (d) => d.length * 6);
    c.push("x");
    c.push("y");
    c.push("z"); // 6 + 6 = 12 fits; a third would not
    c.push("w");
    drain();
    drain();
    expect(sent).toEqual(["x", "yz", "w"]);
  });

  it("flush sends what is pending at once, so an end sent after it follows all the data", () => {
    const log: string[] = [];
    const c = new Coalescer({ send: (d) => log.push(d), whenReady: () => () => {}, maxSize: 100 });
    c.push("1");
    c.push("2");
    c.push("3");
    c.flush();
    log.push("<end>");
    expect(log).toEqual(["1", "23", "<end>"]);
    c.flush(); // nothing pending: nothing sent
    expect(log).toHaveLength(3);
  });

  it("close drops what is pending, cancels the wait, and ignores what comes after", () => {
    const { c, sent, waits } = scripted();
    c.push("kept");
    c.push("dropped");
    c.close();
    expect(waits.at(-1)?.cancelled).toBe(true);
    waits.at(-1)?.ready(); // a late 'ready' from the way out changes nothing
    c.push("late");
    c.flush();
    expect(sent).toEqual(["kept"]);
    expect(c.pending).toBe(false);
  });

  it("ignores a stale ready whose wait was overtaken by a flush", () => {
    const { c, sent, waits, drain } = scripted();
    c.push("a");
    c.push("b");
    const first = waits[0];
    c.flush(); // sends "b" and waits anew
    expect(first?.cancelled).toBe(true);
    c.push("c");
    first?.ready();
    expect(sent).toEqual(["a", "b"]);
    drain();
    expect(sent).toEqual(["a", "b", "c"]);
  });

  it("sends piece by piece when the way out is always ready (a slow trickle)", () => {
    const sent: string[] = [];
    const c = new Coalescer({
      send: (d) => sent.push(d),
      whenReady: (ready) => {
        ready();
        return () => {};
      },
      maxSize: 100,
    });
    for (const p of ["a", "b", "c"]) c.push(p);
    expect(sent).toEqual(["a", "b", "c"]);
  });

  it("keeps content and order exactly under any interleaving of pieces and drains", () => {
    let seed = 17;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor(seed / 65536) % n; // the high bits: an LCG's low bits cycle
    };
    for (let round = 0; round < 50; round++) {
      const { c, sent, drain } = scripted(120);
      const pieces: string[] = [];
      for (let i = 0; i < 200; i++) {
        const p = `${i}:${"x".repeat(rand(30))};`;
        pieces.push(p);
        c.push(p);
        if (rand(4) === 0) drain();
      }
      c.flush();
      expect(sent.join("")).toBe(pieces.join(""));
      for (const s of sent) if (!pieces.includes(s)) expect(s.length).toBeLessThanOrEqual(120);
      expect(sent.length).toBeLessThan(pieces.length); // bursts were merged
    }
  });

  it("merges bytes as it merges text: one buffer, in order, within the bound", () => {
    const sent: Buffer[] = [];
    let ready: (() => void) | undefined;
    const c = new Coalescer<Buffer>({
      send: (d) => sent.push(d),
      whenReady: (r) => {
        ready = r;
        return () => {};
      },
      maxSize: 8,
    });
    const first = Buffer.from("data: a");
    c.push(first);
    for (const p of ["€", "é", "xyz", "1234"]) c.push(Buffer.from(p));
    ready?.();
    expect(sent[0]).toBe(first); // the first piece is sent as it is: not copied
    expect(sent.map((b) => b.toString())).toEqual(["data: a", "€éxyz", "1234"]);
  });
});
