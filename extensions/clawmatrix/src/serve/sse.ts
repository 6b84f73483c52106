/**
 * Incremental Server-Sent Events readers: feed them what arrives, get each event as soon as its
 * blank line is seen, as its `data` (SseReader, text) or in wire form to pass on (SseWireReader,
 * bytes). Pure, so the streaming path is tested without sockets.
 */
const MAX_SSE_EVENT_BYTES = 1024 * 1024;
const DATA = "data: ";

/** An event's `data` lines as the SSE spec reads them (`data:` with or without one space). */
function dataLines(event: string): string[] {
  return event
    .split("\n")
    .filter((l) => l.startsWith("data:"))
    .map((l) => l.slice(5).replace(/^ /, ""));
}

export class SseReader {
  #buf = "";
  /** The last piece ended in CR, already read as a line end: an LF right after it belongs to it. */
  #cr = false;

  /** Returns the data of every event completed by this piece of text. */
  push(text: string): string[] {
    this.#append(text);
    const out: string[] = [];
    let pos = 0;
    let end = this.#buf.indexOf("\n\n");
    while (end >= 0) {
      const data = dataLines(this.#buf.slice(pos, end));
      if (data.length) out.push(data.join("\n"));
      pos = end + 2;
      end = this.#buf.indexOf("\n\n", pos);
    }
    this.#keep(pos);
    return out;
  }

  // SSE ends a line with CRLF, LF or CR: all become LF, a CRLF split across pieces included.
  #append(text: string): void {
    if (text === "") return;
    const t = this.#cr && text.startsWith("\n") ? text.slice(1) : text;
    this.#cr = t.endsWith("\r");
    this.#buf += t.includes("\r") ? t.replace(/\r\n?/g, "\n") : t;
  }

  #keep(from: number): void {
    this.#buf = this.#buf.slice(from);
    if (this.#buf.length > MAX_SSE_EVENT_BYTES)
      throw new Error(`an SSE event is over ${MAX_SSE_EVENT_BYTES} bytes`);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** A piece with every CRLF and lone CR made an LF (SSE's three line ends), in a new buffer. */
function lineFeeds(piece: Buffer): Buffer {
  const out = Buffer.allocUnsafe(piece.length);
  let n = 0;
  for (let i = 0; i < piece.length; i++) {
    const b = piece[i] as number;
    if (b !== CR) out[n++] = b;
    else if (piece[i + 1] !== LF) out[n++] = LF; // a CRLF's CR is dropped, its LF kept
  }
  return out.subarray(0, n);
}

/**
 * The events of a stream in wire form, in bytes: one `data: ` line per data line and a blank
 * line, other fields and comments left out. An event that is already one `data: ` line, as models
 * send them, is passed on as its bytes came, runs of them in one slice of the piece: a model's
 * stream is neither decoded nor encoded on its way to the mesh (PROTOCOL §7). An LF byte never
 * occurs inside a UTF-8 character, so every event is whole characters.
 */
export class SseWireReader {
  #rest: Buffer = Buffer.alloc(0);
  /** The last piece ended in CR, already read as a line end: an LF right after it belongs to it. */
  #cr = false;

  /** Every event completed by this piece, in wire form: an empty buffer when none completed. */
  push(piece: Uint8Array): Buffer {
    const buf = this.#append(piece);
    const parts: Buffer[] = [];
    // Searched as Latin-1 text, one character a byte, so offsets are the bytes' (the engine's
    // string search is far cheaper per call than Buffer's).
    const text = buf.toString("latin1");
    let run = 0; // events from `run` to `pos` are in wire form already
    let pos = 0;
    for (;;) {
      // One search per event in wire form: its first line end is its last, followed by a blank line.
      const lf = text.indexOf("\n", pos);
      if (lf < 0) break;
      if (text.charCodeAt(lf + 1) === LF && lf - pos >= DATA.length && text.startsWith(DATA, pos)) {
        pos = lf + 2;
        continue;
      }
      const end = text.indexOf("\n\n", pos);
      if (end < 0) break;
      if (pos > run) parts.push(buf.subarray(run, pos));
      const data = dataLines(buf.toString("utf8", pos, end));
      if (data.length) parts.push(Buffer.from(`${data.map((l) => DATA + l).join("\n")}\n\n`));
      pos = end + 2;
      run = pos;
    }
    if (pos > run) parts.push(buf.subarray(run, pos));
    this.#rest = buf.subarray(pos);
    if (this.#rest.length > MAX_SSE_EVENT_BYTES)
      throw new Error(`an SSE event is over ${MAX_SSE_EVENT_BYTES} bytes`);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  #append(piece: Uint8Array): Buffer {
    if (piece.length === 0) return this.#rest;
    let p = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (this.#cr && p[0] === LF) p = p.subarray(1);
    this.#cr = p.length > 0 && p[p.length - 1] === CR;
    if (p.includes(CR)) p = lineFeeds(p);
    return this.#rest.length > 0 ? Buffer.concat([this.#rest, p]) : p;
  }
}
