/**
 * Incremental Server-Sent Events reader: feed it bytes as they arrive, get each event's `data`
 * as soon as its blank line is seen. Pure, so the streaming path is tested without sockets.
 */
const MAX_SSE_EVENT_BYTES = 1024 * 1024;

export class SseReader {
  #buf = "";

  /** Returns the data of every event completed by this piece of text. */
  push(text: string): string[] {
    this.#buf += text.replace(/\r\n/g, "\n");
    const out: string[] = [];
    let end = this.#buf.indexOf("\n\n");
    while (end >= 0) {
      const event = this.#buf.slice(0, end);
      this.#buf = this.#buf.slice(end + 2);
      const data = event
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""));
      if (data.length) out.push(data.join("\n"));
      end = this.#buf.indexOf("\n\n");
    }
    if (this.#buf.length > MAX_SSE_EVENT_BYTES)
      throw new Error(`an SSE event is over ${MAX_SSE_EVENT_BYTES} bytes`);
    return out;
  }
}
