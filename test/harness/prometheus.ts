import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { freePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

/**
 * A real Prometheus (Debian's `prometheus` package) for the tests: started with a generated
 * config on a free loopback port with its own storage folder, never the system service on 9090.
 */

const PROMETHEUS_BINS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"];

/** The prometheus binary, or undefined when none is installed. */
export function findPrometheus(): string | undefined {
  const fromEnv = process.env.PROMETHEUS_BIN;
  for (const p of fromEnv ? [fromEnv] : PROMETHEUS_BINS) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

export interface ScrapeTarget {
  /** The job name (one per node: each has its own token). */
  name: string;
  url: string;
  token: string;
}

const vectorAnswer = z.object({
  status: z.literal("success"),
  data: z.object({
    resultType: z.literal("vector"),
    result: z
      .array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) }))
      .max(10_000),
  }),
});

export type Sample = { metric: Record<string, string>; value: number };

export class Prometheus {
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.#child = child;
  }

  static async start(bin: string, dir: string, targets: ScrapeTarget[]): Promise<Prometheus> {
    mkdirSync(path.join(dir, "data"), { recursive: true });
    const config = {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      scrape_configs: targets.map((t) => {
        const u = new URL(t.url);
        if (u.hostname !== "127.0.0.1") throw new Error(`scrape target ${t.url}: loopback only`);
        return {
          job_name: t.name,
          metrics_path: "/bundle/metrics",
          authorization: { credentials: t.token },
          static_configs: [{ targets: [u.host], labels: { node: t.name } }],
        };
      }),
    };
    const configFile = path.join(dir, "prometheus.yml");
    writeFileSync(configFile, stringify(config), { mode: 0o600 });
    const port = await freePort();
    const child = spawn(
      bin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const prom = new Prometheus(`http://127.0.0.1:${port}`, child);
    try {
      await waitFor(
        "prometheus to be ready",
        async () => (await fetch(`${prom.url}/-/ready`, { signal: AbortSignal.timeout(2000) })).status,
        (s) => s === 200,
        { failIf: () => (child.exitCode !== null ? `prometheus exited: ${stderr}` : undefined) },
      );
    } catch (err) {
      await prom.stop();
      throw err;
    }
    return prom;
  }

  /** An instant query; the answer is checked, at most 10 000 samples. */
  async query(expr: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = vectorAnswer.parse(await res.json());
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The one sample's value for `node`, or undefined when absent. */
  async valueOf(expr: string, node: string): Promise<number | undefined> {
    return (await this.query(expr)).find((s) => s.metric.node === node)?.value;
  }

  async stop(): Promise<void> {
    const c = this.#child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
}
