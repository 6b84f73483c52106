import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { graphSchema, toDot } from "./topology/graph.ts";

/**
 * `openclaw clawmatrix status` (a table) and `openclaw clawmatrix peers` (JSON), read from the
 * running gateway through its `clawmatrix.status` / `clawmatrix.peers` methods.
 */

export const CLI_DESCRIPTOR = {
  name: "clawmatrix",
  description: "ClawMatrix mesh: status and peers of the running gateway",
  hasSubcommands: true,
} as const;

interface PeerRow {
  nodeId: string;
  status: string;
  via?: string;
  /** Reached through a link that has been silent for a while (PROTOCOL §1). */
  quiet?: boolean;
  latencyMs?: number;
  tags?: string[];
  agents?: string[];
  models?: string[];
}

/** A readable table: this node, then one row per peer. Pure. */
export function formatStatus(s: Record<string, unknown>): string {
  const list = (v: unknown) => (Array.isArray(v) && v.length ? v.join(",") : "-");
  const head = [
    `node ${String(s.nodeId ?? "?")}  state ${String(s.state ?? "?")}${s.reason ? ` (${String(s.reason)})` : ""}`,
    `tags ${list(s.tags)}  agents ${list(s.agents)}  models ${list(s.models)}`,
    ...(typeof s.tlsPin === "string"
      ? [`tls pin ${s.tlsPin}  (append to this node's wss:// URL in CLAWMATRIX_PEERS)`]
      : []),
  ];
  const peers = (Array.isArray(s.peers) ? s.peers : []) as PeerRow[];
  const rows = [
    ["PEER", "STATUS", "LATENCY", "TAGS", "AGENTS", "MODELS"],
    ...peers.map((p) => [
      p.nodeId,
      (p.status === "relay" && p.via ? `relay via ${p.via}` : p.status) + (p.quiet ? " (quiet)" : ""),
      p.latencyMs === undefined ? "-" : `${p.latencyMs} ms`,
      list(p.tags),
      list(p.agents),
      list(p.models),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const table = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  return [...head, "", ...(peers.length ? table : ["(no peers known)"])].join("\n");
}

export function registerClawmatrixCli(api: OpenClawPluginApi): void {
  api.registerCli(
    async ({ program }) => {
      const { addGatewayClientOptions, callGatewayFromCli } = await import(
        "openclaw/plugin-sdk/gateway-runtime"
      );
      const root = program.command("clawmatrix").description(CLI_DESCRIPTOR.description);
      const out = (text: string) => process.stdout.write(`${text}\n`);
      addGatewayClientOptions(
        root.command("status").description("Mesh status of the running gateway, as a table"),
      ).action(async (opts: Record<string, string>) => {
        const s = await callGatewayFromCli("clawmatrix.status", opts, {});
        out(opts.json ? JSON.stringify(s, null, 2) : formatStatus(s));
      });
      addGatewayClientOptions(
        root
          .command("peers")
          .description("Known mesh nodes of the running gateway, as JSON (--dot: the graph for Graphviz)")
          .option("--dot", "print the mesh as a Graphviz graph (e.g. | dot -Tsvg > mesh.svg)"),
      ).action(async (opts: Record<string, string>) => {
        if (opts.dot)
          out(toDot(graphSchema.parse(await callGatewayFromCli("clawmatrix.topology", opts, {}))));
        else out(JSON.stringify(await callGatewayFromCli("clawmatrix.peers", opts, {}), null, 2));
      });
    },
    { descriptors: [CLI_DESCRIPTOR] },
  );
}
