import { EnvReader } from "./env-fields.ts";

/**
 * The mesh of a Kubernetes StatefulSet, derived from the pod's own name. Every replica gets the
 * same environment, so the peer list cannot be written out per node: each replica reads its
 * ordinal from its pod name (`<set>-<ordinal>`, which Kubernetes also makes its hostname) and
 * dials the relays — the first CLAWMATRIX_STATEFULSET_RELAYS replicas — by their stable DNS names
 * under the headless Service. Exactly one side of each pair dials (a replica dials only relays
 * with a lower ordinal than its own, or every relay when it is not one), so no two links race for
 * the same pair. Gossip carries the rest, as through the compose topology's relay; scaling the
 * set needs no change to the environment. With a CA (CLAWMATRIX_TLS_CA_FILE) the relays are
 * dialed as wss:// and verified by it, host name included: every replica mounts the same
 * certificate for its DNS names (e.g. `*.<service>.<namespace>.svc.<domain>`) and its key.
 */

export interface StatefulSetMesh {
  /** The pod name: the mesh node id, which the peers' dials expect in the handshake. */
  nodeId: string;
  ordinal: number;
  /** Whether this replica is one of the relays, which listen. */
  relay: boolean;
  peers: Array<{ nodeId: string; url: string }>;
}

/** A DNS label (RFC 1123), as Kubernetes requires for Service, namespace and StatefulSet names. */
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_EXPECTED =
  "a DNS label: 1-63 characters of [a-z0-9-], starting and ending with a letter or digit";
const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** `<set>-<ordinal>`: the set name is a label itself, the ordinal has no leading zero. */
const POD_NAME = /^([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)-(0|[1-9]\d{0,4})$/;
const MAX_RELAYS = 16;
const DEFAULT_PORT = 19000;

/** The DNS name a replica has under the headless Service. */
export function replicaHost(
  set: string,
  ordinal: number,
  service: string,
  namespace: string,
  domain: string,
) {
  return `${set}-${ordinal}.${service}.${namespace}.svc.${domain}`;
}

/**
 * Undefined when CLAWMATRIX_STATEFULSET_SERVICE is unset (the mesh is configured as before), or
 * when a variable is bad (the problem is recorded in `r`). `podName` is the HOSTNAME Kubernetes
 * gives the pod; `port` the mesh port every replica listens on (the same env for all).
 */
export function readStatefulSet(
  r: EnvReader,
  podName: string | undefined,
  port: number | undefined,
  tls: { certFile?: string; keyFile?: string; caFile?: string } = {},
): StatefulSetMesh | undefined {
  const service = r.string("CLAWMATRIX_STATEFULSET_SERVICE", { pattern: LABEL, expected: LABEL_EXPECTED });
  const namespace = r.string("CLAWMATRIX_STATEFULSET_NAMESPACE", {
    pattern: LABEL,
    expected: LABEL_EXPECTED,
  });
  const relays = r.int("CLAWMATRIX_STATEFULSET_RELAYS", 1, MAX_RELAYS) ?? 1;
  const domain =
    r.string("CLAWMATRIX_CLUSTER_DOMAIN", {
      pattern: DOMAIN,
      expected: "a DNS domain such as cluster.local",
    }) ?? "cluster.local";
  if (!r.has("CLAWMATRIX_STATEFULSET_SERVICE")) {
    for (const name of ["CLAWMATRIX_STATEFULSET_NAMESPACE", "CLAWMATRIX_STATEFULSET_RELAYS"])
      if (r.has(name)) r.problem(name, "set without CLAWMATRIX_STATEFULSET_SERVICE", "both or neither");
    return undefined;
  }
  if (!r.has("CLAWMATRIX_STATEFULSET_NAMESPACE"))
    r.problem(
      "CLAWMATRIX_STATEFULSET_NAMESPACE",
      "not set",
      "the pod's namespace (the downward API's metadata.namespace) when CLAWMATRIX_STATEFULSET_SERVICE is set",
    );
  // Peers dial a replica by its pod name and expect that name in the handshake: another id would
  // make every link to this replica fail.
  if (r.has("CLAWMATRIX_NODE_ID"))
    r.problem(
      "CLAWMATRIX_NODE_ID",
      "set together with CLAWMATRIX_STATEFULSET_SERVICE",
      "unset: in a StatefulSet the node id is the pod name",
    );
  const m = podName === undefined ? null : POD_NAME.exec(podName);
  if (!m)
    return r.problem(
      "HOSTNAME",
      `${podName === undefined ? "unset" : `${EnvReader.shown(podName)} is not a StatefulSet pod name`} (CLAWMATRIX_STATEFULSET_SERVICE is set)`,
      "<set>-<ordinal>, the name Kubernetes gives a StatefulSet's pod",
    );
  if (!service || !namespace) return undefined;
  const set = m[1] as string;
  const ordinal = Number(m[2]);
  const relay = ordinal < relays;
  const scheme = tls.caFile ? "wss" : "ws";
  // A relay dialed as wss:// must serve the certificate the CA vouches for; a self-signed one
  // per replica could be pinned by no one, as every replica has the same environment.
  if (scheme === "wss" && relay && !(tls.certFile && tls.keyFile))
    r.problem(
      "CLAWMATRIX_TLS_CERT_FILE",
      "not set while CLAWMATRIX_TLS_CA_FILE makes the StatefulSet's peers wss://",
      "CLAWMATRIX_TLS_CERT_FILE and CLAWMATRIX_TLS_KEY_FILE: a certificate the CA signed for the replicas' DNS names (the Secret the mesh-tls overlay mounts)",
    );
  const peers: StatefulSetMesh["peers"] = [];
  for (let j = 0; j < (relay ? ordinal : relays); j++)
    peers.push({
      nodeId: `${set}-${j}`,
      url: `${scheme}://${replicaHost(set, j, service, namespace, domain)}:${port ?? DEFAULT_PORT}`,
    });
  return { nodeId: podName as string, ordinal, relay, peers };
}
