import { Backoff, errorMessage, sleep } from "@openclaw-bundle/shared";
import { createParser } from "eventsource-parser";
import { USER_AGENT } from "./client.ts";

/**
 * The SSE hint stream of a topic (EXTERNAL-APIS.md section 1): each event on it only says that
 * events exist, so each one asks for a drain; the events themselves are always pulled. The stream
 * is parsed by eventsource-parser, which keeps a line split across TCP chunks. A 401 drops the
 * cached access token (compare-and-clear), so the reconnect presents a fresh one instead of the
 * same dead token until the safety poll happens to refresh it. A lost stream reconnects with
 * backoff; a line longer than MAX_LINE_CHARS ends the stream (a hostile or broken peer).
 */

export type HintState = "connecting" | "open" | "down" | "off";
const MAX_LINE_CHARS = 256 * 1024;

interface TokenSource {
  token(): Promise<string>;
  dropToken(token: string): void;
}

interface HintOptions {
  /** The stream's URL and headers, built at each connect (its resume position may have moved). */
  request: () => { url: string; headers?: Record<string, string> };
  client: TokenSource;
  /** An event arrived on the stream. */
  onHint: () => void;
  /** The stream is open (events may have been published while it was down). */
  onOpen: () => void;
  onState: (state: HintState, error?: string) => void;
  /** Delays between reconnects (ms); tests shorten them. */
  backoff?: Backoff;
}

export class HintStream {
  readonly #o: HintOptions;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(o: HintOptions) {
    this.#o = o;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const backoff = this.#o.backoff ?? new Backoff({ initialMs: 1000, maxMs: 30_000 });
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#o.onState("connecting");
      let error: string | undefined;
      try {
        await this.#once(signal, () => backoff.reset());
        error = "stream ended";
      } catch (err) {
        if (signal.aborted) break;
        error = errorMessage(err);
      }
      this.#o.onState("down", `SSE: ${error}`);
      await sleep(backoff.next(), signal).catch(() => undefined);
    }
    this.#o.onState("off");
  }

  /** One connection, until it ends; throws naming why it could not open or broke. */
  async #once(signal: AbortSignal, opened: () => void): Promise<void> {
    const token = await this.#o.client.token();
    const target = this.#o.request();
    const res = await fetch(target.url, {
      headers: {
        ...target.headers,
        "user-agent": USER_AGENT,
        authorization: `Bearer ${token}`,
        accept: "text/event-stream",
      },
      signal,
    });
    if (res.status === 401) {
      this.#o.client.dropToken(token);
      await res.body?.cancel();
      throw new Error("answered 401; the access token was dropped");
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`answered ${res.status}`);
    }
    this.#o.onState("open");
    opened();
    this.#o.onOpen();
    const parser = createParser({ onEvent: () => this.#o.onHint() });
    const decoder = new TextDecoder();
    let lineChars = 0;
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(piece, { stream: true });
      const nl = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"));
      lineChars = nl < 0 ? lineChars + text.length : text.length - nl - 1;
      if (lineChars > MAX_LINE_CHARS) throw new Error(`a line longer than ${MAX_LINE_CHARS} characters`);
      parser.feed(text);
    }
  }
}
