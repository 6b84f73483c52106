/**
 * Incremental Server-Sent Events reader: feed it text as it arrives, get each event as soon as
 * its blank line is seen, either as its `data` (push) or in wire form to forward (pushWire).
 * Pure, so the streaming path is tested without sockets.
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

  /**
   * Returns every event completed by this piece in wire form: one `data: ` line per data line and
   * a blank line, other fields and comments left out; "" when none completed. An event that is
   * already one `data: ` line, as models send them, is passed on as it came, runs of them in one
   * slice: the text is not taken apart and put together again.
   */
  pushWire(text: string): string {
    this.#append(text);
    const buf = this.#buf;
    let out = "";
    let run = 0; // events from `run` to `pos` are in wire form already
    let pos = 0;
    let end = buf.indexOf("\n\n");
    while (end >= 0) {
      if (!(buf.startsWith(DATA, pos) && buf.indexOf("\n", pos) === end)) {
        const data = dataLines(buf.slice(pos, end));
        out += buf.slice(run, pos);
        if (data.length) out += `${data.map((l) => DATA + l).join("\n")}\n\n`;
        run = end + 2;
      }
      pos = end + 2;
      end = buf.indexOf("\n\n", pos);
    }
    out += buf.slice(run, pos);
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
