import { createSecretKey, randomBytes } from "node:crypto";
import { newId } from "../../../extensions/clawmatrix/src/mesh/ids.ts";
import {
  decodeFrameBytes,
  encodeFrameBytes,
  type FrameOf,
  type RoutedFrame,
  relayed,
} from "../../../extensions/clawmatrix/src/protocol/frames.ts";
import { macRouted, routedMacOk } from "../../../extensions/clawmatrix/src/protocol/origin-sign.ts";
import { FrameOpener, FrameSealer } from "../../../extensions/clawmatrix/src/protocol/session.ts";
import { median } from "./mesh-common.ts";

// What every frame of a round trip must pay whatever else the mesh does, timed in the same run as
// the round trips (the machine's load moves absolute times by 2x between runs): sealing and
// opening it (AES-256-GCM, PROTOCOL §3a) and, on a relayed frame, its origin MAC (§6a). From
// these the bench prints the floor: the ratio a mesh whose frames cost nothing but that would
// reach. A target below its floor cannot be met by any change that keeps every frame sealed.

/** Microseconds per frame, medians of a few passes, for a frame like the round-trip bench's requests. */
export interface FrameCosts {
  /** The frame's plaintext bytes. */
  bytes: number;
  seal: number;
  /** Authentication and sequence check only (FrameOpener.openPlain). */
  open: number;
  /** Origin MAC added by the sender of a relayed frame. */
  mac: number;
  /** Origin MAC checked by its destination. */
  verify: number;
  /** JSON + schema both ways: what a relay fast path could skip. */
  encode: number;
  decode: number;
}

function perOp(n: number, fn: (i: number) => unknown): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return ((performance.now() - t0) / n) * 1000;
}

function onePass(n: number): FrameCosts {
  const key = randomBytes(32);
  const sealer = new FrameSealer(key);
  const pair = createSecretKey(randomBytes(32));
  const frame: RoutedFrame = {
    t: "req",
    id: newId(),
    src: "node-b",
    dst: "node-a",
    ttl: 8,
    kind: "chat",
    body: { i: 1234 },
  };
  const plain = encodeFrameBytes(frame);
  const sealed: Buffer[] = [];
  const seal = perOp(n, () => sealed.push(sealer.seal(plain)));
  const opener = new FrameOpener(key);
  const open = perOp(n, (i) => {
    if (!opener.openPlain(sealed[i] as Buffer).ok) throw new Error("bench: a sealed frame did not open");
  });
  const proved = macRouted(pair, frame);
  const mac = perOp(n, () => macRouted(pair, frame));
  const verify = perOp(n, () => {
    if (!routedMacOk(pair, proved)) throw new Error("bench: a MAC did not verify");
  });
  const encode = perOp(n, () => encodeFrameBytes(frame));
  const decode = perOp(n, () => decodeFrameBytes(plain));
  return { bytes: plain.length, seal, open, mac, verify, encode, decode };
}

/** Per-frame costs measured now: a warm-up pass, then the median of `passes`. */
export function frameCosts(n = 5000, passes = 3): FrameCosts {
  onePass(n);
  const all = Array.from({ length: passes }, () => onePass(n));
  const pick = (k: keyof FrameCosts) => median(all.map((c) => c[k]));
  return {
    bytes: pick("bytes"),
    seal: pick("seal"),
    open: pick("open"),
    mac: pick("mac"),
    verify: pick("verify"),
    encode: pick("encode"),
    decode: pick("decode"),
  };
}

/**
 * The lowest ratios to an echo of `echoUs` that round trips with these frame costs could reach:
 * 1 hop is the echo plus two frames sealed and opened; 2 hops are two echoes' worth of sockets,
 * four frames sealed and opened, and each way's origin MAC made and checked.
 */
export function floors(c: FrameCosts, echoUs: number): { oneHop: number; twoHops: number } {
  const frame = c.seal + c.open;
  return {
    oneHop: (echoUs + 2 * frame) / echoUs,
    twoHops: (2 * echoUs + 4 * frame + 2 * (c.mac + c.verify)) / echoUs,
  };
}

export function describeFloors(c: FrameCosts, echoUs: number, what: string): string {
  const f = floors(c, echoUs);
  const us = (x: number) => x.toFixed(1);
  return (
    `  floor, crypto alone (a ${c.bytes}-byte frame: seal ${us(c.seal)} us, open ${us(c.open)} us, ` +
    `origin MAC ${us(c.mac)} + ${us(c.verify)} us; JSON and schema ${us(c.encode)} + ${us(c.decode)} us): ` +
    `1 hop >= ${f.oneHop.toFixed(2)}x, 2 hops >= ${f.twoHops.toFixed(2)}x ${what}`
  );
}

/** CPU microseconds a relay spends on one sealed chunk of `data`: open, copy with a lower ttl, seal. */
function relayChunkUs(data: string, fast: boolean, n: number): number {
  const chunk: FrameOf<"chunk"> = {
    t: "chunk",
    id: newId(),
    src: "node-b",
    dst: "node-c",
    ttl: 8,
    re: newId(),
    n: 1,
    data,
  };
  const inKey = randomBytes(32);
  const sealer = new FrameSealer(inKey);
  const sealed = Array.from({ length: n }, () => sealer.seal(encodeFrameBytes(chunk)));
  const opener = new FrameOpener(inKey);
  const out = new FrameSealer(randomBytes(32));
  const c0 = process.cpuUsage();
  for (const m of sealed) {
    const r = opener.open(m);
    if (!r.ok || r.frame.t !== "chunk") throw new Error("bench: a sealed chunk did not open");
    // The fast path keeps the data's bytes; the other copies the frame, reading its data as text.
    out.seal(encodeFrameBytes(fast ? relayed(r.frame, 7) : { ...r.frame, ttl: 7 }));
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/**
 * A relay's CPU per streamed chunk of `kib` KiB of SSE text, forwarding the data's bytes as they
 * came (frames.ts relayed) against decoding and re-encoding them: 5 alternating rounds, medians.
 */
export function relayChunkCosts(
  kib: number,
  n = Math.max(100, Math.floor((20 * 1024) / kib)),
): { fast: number; decoded: number } {
  const event = (i: number) =>
    `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"word${i} "}}]}\n\n`;
  let data = "";
  for (let i = 0; data.length < kib * 1024; i++) data += event(i);
  data = data.slice(0, kib * 1024);
  relayChunkUs(data, true, n);
  relayChunkUs(data, false, n);
  const fast: number[] = [];
  const decoded: number[] = [];
  for (let r = 0; r < 5; r++) {
    fast.push(relayChunkUs(data, true, n));
    decoded.push(relayChunkUs(data, false, n));
  }
  return { fast: median(fast), decoded: median(decoded) };
}
