/**
 * The daemon's log: one line per event on stdout, `text` (`<time> INFO event key=value ...`) or
 * `json` (`{"time","level","msg",...}`) as `-log-format` asks. The entrypoint runs the daemon with
 * json so its lines can be parsed. Never a key or token in a line.
 */

export type LogFormat = "text" | "json";
export type Level = "debug" | "info" | "warn" | "error";
export type Log = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

export function createLog(
  format: LogFormat,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Log {
  return (level, msg, fields = {}) => {
    const time = new Date().toISOString();
    if (format === "json") {
      write(`${JSON.stringify({ time, level, msg, ...fields })}\n`);
      return;
    }
    const kv = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(" ");
    write(`${time} ${level.toUpperCase()} ${msg}${kv ? ` ${kv}` : ""}\n`);
  };
}
