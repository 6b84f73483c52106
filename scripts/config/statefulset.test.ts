import { describe, expect, it } from "vitest";
import { readSettings } from "./settings.ts";

// The StatefulSet mesh through the whole settings read, as the entrypoint does it: each replica
// gets the same env and only its HOSTNAME (the pod name) differs.
const SET = {
  OPENCLAW_GATEWAY_TOKEN: "gateway-token-0123456789",
  HOME: "/home/node",
  CLAWMATRIX_SECRET: "mesh-secret-abcdefghijkl",
  CLAWMATRIX_STATEFULSET_SERVICE: "openclaw-mesh",
  CLAWMATRIX_STATEFULSET_NAMESPACE: "agents",
};

function mesh(env: Record<string, string>) {
  const r = readSettings({ ...SET, ...env });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.settings.extensions.clawmatrix.config as {
    nodeId: string;
    listen: boolean;
    listenPort?: number;
    peers?: Array<{ nodeId: string; url: string }>;
  };
}

function problems(env: Record<string, string | undefined>): string[] {
  const r = readSettings({ ...SET, ...env });
  return r.ok ? [] : r.problems;
}

const TLS_CONFIG = {
  caFile: "/etc/openclaw/mesh-tls/ca.crt",
  certFile: "/etc/openclaw/mesh-tls/tls.crt",
  keyFile: "/etc/openclaw/mesh-tls/tls.key",
};

const url = (i: number, port = 19000, domain = "cluster.local") =>
  `ws://openclaw-${i}.openclaw-mesh.agents.svc.${domain}:${port}`;

describe("the StatefulSet mesh", () => {
  it("makes replica 0 the listening relay that dials nobody, and every other replica dial it", () => {
    const zero = mesh({ HOSTNAME: "openclaw-0" });
    expect(zero).toMatchObject({ nodeId: "openclaw-0", listen: true });
    expect(zero.peers ?? []).toEqual([]);
    for (const i of [1, 2, 17]) {
      const other = mesh({ HOSTNAME: `openclaw-${i}` });
      expect(other).toMatchObject({ nodeId: `openclaw-${i}`, listen: false });
      expect(other.peers).toEqual([{ nodeId: "openclaw-0", url: url(0) }]);
    }
  });

  it("with several relays, dials each pair from one side only", () => {
    const env = { CLAWMATRIX_STATEFULSET_RELAYS: "3" };
    const peersOf = (i: number) =>
      (mesh({ ...env, HOSTNAME: `openclaw-${i}` }).peers ?? []).map((p) => p.nodeId);
    expect(peersOf(0)).toEqual([]);
    expect(peersOf(1)).toEqual(["openclaw-0"]);
    expect(peersOf(2)).toEqual(["openclaw-0", "openclaw-1"]);
    expect(peersOf(3)).toEqual(["openclaw-0", "openclaw-1", "openclaw-2"]);
    expect(mesh({ ...env, HOSTNAME: "openclaw-2" }).listen).toBe(true);
    expect(mesh({ ...env, HOSTNAME: "openclaw-3" }).listen).toBe(false);
    // Over five replicas, every pair is dialed exactly once or not at all (non-relays reach each
    // other through the relays).
    const dials = new Set<string>();
    for (let i = 0; i < 5; i++)
      for (const p of peersOf(i)) {
        const pair = [p, `openclaw-${i}`].sort().join("|");
        expect(dials.has(pair)).toBe(false);
        dials.add(pair);
      }
    expect(dials.size).toBe(3 + 2 * 3);
  });

  it("uses the mesh port and cluster domain, keeps peers outside the set and an explicit listen", () => {
    const m = mesh({
      HOSTNAME: "openclaw-1",
      CLAWMATRIX_LISTEN_PORT: "19500",
      CLAWMATRIX_CLUSTER_DOMAIN: "corp.example",
      CLAWMATRIX_PEERS: `edge=wss://edge.example:443#sha256=${"c".repeat(64)},openclaw-0=ws://elsewhere:1`,
      CLAWMATRIX_LISTEN: "true",
    });
    expect(m.listen).toBe(true);
    expect(m.listenPort).toBe(19500);
    expect(m.peers).toEqual([
      { nodeId: "openclaw-0", url: url(0, 19500, "corp.example") },
      { nodeId: "edge", url: "wss://edge.example:443", fingerprint: "c".repeat(64) },
    ]);
  });

  it("takes the registry hostname and lease machine id from the same pod name", () => {
    const r = readSettings({
      ...SET,
      HOSTNAME: "openclaw-2",
      AGENT_REGISTRY_URL: "http://registry:8001",
      AUTH_MANAGER_BASE_URL: "https://broker.example",
      AUTH_MANAGER_INTERNAL_API_TOKEN: "broker-token-0123456789",
    });
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(r.settings.ids.map((i) => i.value)).toEqual([
      "openclaw-2",
      "openclaw-2",
      "openclaw-2",
      "openclaw-2",
    ]);
    expect(r.settings.ids[0]?.from).toBe("HOSTNAME, the StatefulSet pod name");
  });

  it("dials the relays as wss:// verified by the CA when one is mounted, and needs the relays' certificate", () => {
    const TLS = {
      CLAWMATRIX_TLS_CA_FILE: "/etc/openclaw/mesh-tls/ca.crt",
      CLAWMATRIX_TLS_CERT_FILE: "/etc/openclaw/mesh-tls/tls.crt",
      CLAWMATRIX_TLS_KEY_FILE: "/etc/openclaw/mesh-tls/tls.key",
    };
    expect(mesh({ ...TLS, HOSTNAME: "openclaw-2" }).peers).toEqual([
      { nodeId: "openclaw-0", url: url(0).replace(/^ws:/, "wss:") },
    ]);
    // Pinned by no fingerprint: the CA and the host name vouch for the relay.
    expect(mesh({ ...TLS, HOSTNAME: "openclaw-0" })).toMatchObject({ listen: true, tls: TLS_CONFIG });
    expect(problems({ CLAWMATRIX_TLS_CA_FILE: TLS.CLAWMATRIX_TLS_CA_FILE, HOSTNAME: "openclaw-0" })).toEqual([
      expect.stringMatching(
        /^CLAWMATRIX_TLS_CERT_FILE: not set while CLAWMATRIX_TLS_CA_FILE makes the StatefulSet's peers wss:\/\/.*expected CLAWMATRIX_TLS_CERT_FILE and CLAWMATRIX_TLS_KEY_FILE/,
      ),
    ]);
    // A replica that only dials needs no certificate of its own.
    expect(problems({ CLAWMATRIX_TLS_CA_FILE: TLS.CLAWMATRIX_TLS_CA_FILE, HOSTNAME: "openclaw-1" })).toEqual(
      [],
    );
  });

  it("refuses bad values with one line naming the variable and what is expected", () => {
    const cases: Array<[Record<string, string | undefined>, RegExp]> = [
      [
        { HOSTNAME: "gateway" },
        /^HOSTNAME: "gateway" is not a StatefulSet pod name \(CLAWMATRIX_STATEFULSET_SERVICE is set\); expected <set>-<ordinal>/,
      ],
      [{ HOSTNAME: "openclaw-01" }, /^HOSTNAME: "openclaw-01" is not a StatefulSet pod name/],
      [
        { HOSTNAME: "openclaw-0", CLAWMATRIX_STATEFULSET_SERVICE: "Mesh_Svc" },
        /^CLAWMATRIX_STATEFULSET_SERVICE: "Mesh_Svc" is not valid; expected a DNS label/,
      ],
      [
        { HOSTNAME: "openclaw-0", CLAWMATRIX_STATEFULSET_NAMESPACE: undefined },
        /^CLAWMATRIX_STATEFULSET_NAMESPACE: not set; expected the pod's namespace/,
      ],
      [
        { HOSTNAME: "openclaw-0", CLAWMATRIX_STATEFULSET_RELAYS: "0" },
        /^CLAWMATRIX_STATEFULSET_RELAYS: "0" is not valid; expected an integer 1-16$/,
      ],
      [
        { HOSTNAME: "openclaw-0", CLAWMATRIX_CLUSTER_DOMAIN: "bad domain" },
        /^CLAWMATRIX_CLUSTER_DOMAIN: "bad domain" is not valid; expected a DNS domain/,
      ],
      [
        { HOSTNAME: "openclaw-0", CLAWMATRIX_NODE_ID: "other" },
        /^CLAWMATRIX_NODE_ID: set together with CLAWMATRIX_STATEFULSET_SERVICE; expected unset/,
      ],
      [
        { HOSTNAME: "openclaw-0", CLAWMATRIX_STATEFULSET_SERVICE: undefined },
        /^CLAWMATRIX_STATEFULSET_NAMESPACE: set without CLAWMATRIX_STATEFULSET_SERVICE; expected both or neither$/,
      ],
    ];
    for (const [env, expected] of cases) {
      const found = problems(env);
      expect(found, JSON.stringify(env)).toHaveLength(1);
      expect(found[0]).toMatch(expected);
    }
  });

  it("changes nothing when the StatefulSet variables are unset", () => {
    const r = readSettings({
      OPENCLAW_GATEWAY_TOKEN: SET.OPENCLAW_GATEWAY_TOKEN,
      HOME: "/home/node",
      HOSTNAME: "node-b",
      CLAWMATRIX_SECRET: SET.CLAWMATRIX_SECRET,
      CLAWMATRIX_PEERS: "node-a=ws://node-a:19000",
    });
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(r.settings.extensions.clawmatrix.config).toMatchObject({
      nodeId: "node-b",
      listen: false,
      peers: [{ nodeId: "node-a", url: "ws://node-a:19000" }],
    });
  });
});
