import fs from "node:fs";
import net from "node:net";
import { isErrorCode, PilotError } from "./errors.ts";

/**
 * The IPC between pilotctl and pilot-daemon over the Unix socket: one connection per command,
 * one newline-terminated JSON request, one newline-terminated JSON response, then the daemon
 * closes. One shot per connection keeps both ends stateless: a killed pilotctl leaves nothing
 * half-read in a long-lived stream.
 *
 *   request:  {"v":1,"cmd":"send-message","args":{"target":"bob","type":"text","data":"hi"}}
 *   response: {"ok":true,"data":{...}}  or  {"ok":false,"code":"not_found","message":"...","hint":"..."}
 */

export const IPC_VERSION = 1;
/** Lines are bounded: a message's data (1 MiB) JSON-escaped, plus room for the envelope. */
export const MAX_IPC_LINE = 8 * 1024 * 1024;
export const DEFAULT_IPC_TIMEOUT_MS = 15_000;
const IDLE_TIMEOUT_MS = 60_000;

export interface IpcRequest {
  v: number;
  cmd: string;
  args: Record<string, unknown>;
}
export type IpcResponse =
  | { ok: true; data: unknown }
  | { ok: false; code: string; message: string; hint?: string };

/** Reads one line from a socket, refusing one longer than MAX_IPC_LINE. */
function readLine(sock: net.Socket, onLine: (line: string) => void, onError: (err: Error) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  sock.on("data", (chunk: Buffer) => {
    if (done) return;
    const nl = chunk.indexOf(0x0a);
    const part = nl >= 0 ? chunk.subarray(0, nl) : chunk;
    size += part.length;
    if (size > MAX_IPC_LINE) {
      done = true;
      onError(new PilotError("invalid_argument", `IPC line longer than ${MAX_IPC_LINE} bytes`));
      return;
    }
    chunks.push(part);
    if (nl >= 0) {
      done = true;
      onLine(Buffer.concat(chunks).toString("utf8"));
    }
  });
}

export type IpcHandler = (cmd: string, args: Record<string, unknown>) => Promise<unknown>;

/** Serves the socket; every handler error becomes an `ok: false` line with its code. */
export function serveIpc(socketPath: string, handler: IpcHandler): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.on("error", () => sock.destroy());
    // A client that connects and never finishes its line must not hold a descriptor forever.
    sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
    const reply = (r: IpcResponse) => sock.end(`${JSON.stringify(r)}\n`);
    const fail = (err: unknown) => {
      const e = err instanceof PilotError ? err : new PilotError("internal", String(err), { cause: err });
      reply({ ok: false, code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    };
    readLine(
      sock,
      (line) => {
        let req: IpcRequest;
        try {
          req = JSON.parse(line) as IpcRequest;
        } catch {
          return fail(new PilotError("invalid_argument", "IPC request is not JSON"));
        }
        if (req?.v !== IPC_VERSION || typeof req.cmd !== "string")
          return fail(new PilotError("invalid_argument", `IPC request must be {v:${IPC_VERSION},cmd,args}`));
        handler(req.cmd, req.args && typeof req.args === "object" ? req.args : {}).then(
          (data) => reply({ ok: true, data }),
          fail,
        );
      },
      fail,
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      // Only this user's processes may drive the daemon (the real one's socket is 0600 too).
      fs.chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

/** Sends one request; no daemon on the socket is `not_running`, a silent one `timeout`. */
export function ipcCall(
  socketPath: string,
  cmd: string,
  args: Record<string, unknown> = {},
  timeoutMs = DEFAULT_IPC_TIMEOUT_MS,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new PilotError("timeout", `the daemon on ${socketPath} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    sock.on("error", (err: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          ["ENOENT", "ECONNREFUSED", "ENOTSOCK"].includes(err.code ?? "")
            ? new PilotError("not_running", `no daemon is running on ${socketPath}`, {
                hint: "start it with pilot-daemon -registry host:port",
                cause: err,
              })
            : new PilotError("internal", `IPC with ${socketPath} failed: ${err.message}`, { cause: err }),
        ),
      ),
    );
    sock.on("connect", () => sock.write(`${JSON.stringify({ v: IPC_VERSION, cmd, args })}\n`));
    sock.on("end", () =>
      finish(() => reject(new PilotError("internal", "the daemon closed the IPC socket without answering"))),
    );
    readLine(
      sock,
      (line) =>
        finish(() => {
          let r: IpcResponse;
          try {
            r = JSON.parse(line) as IpcResponse;
          } catch {
            return reject(new PilotError("internal", "the daemon answered something that is not JSON"));
          }
          if (r.ok) return resolve(r.data);
          reject(new PilotError(isErrorCode(r.code) ? r.code : "internal", r.message, { hint: r.hint }));
        }),
      (err) => finish(() => reject(err)),
    );
  });
}

/** True when a live daemon accepts connections on the socket (so a second one must not start). */
export function socketAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
