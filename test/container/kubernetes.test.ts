import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSelfSigned } from "../../extensions/clawmatrix/src/protocol/tls-cert.ts";
import {
  type Container,
  type K8sObject,
  kubectlMissing,
  renderDir,
  resolveEnv,
  statefulSet,
} from "../../scripts/kubernetes/render.ts";
import { REPO_ROOT } from "../harness/node24.ts";
import { budget, waitFor } from "../harness/wait.ts";
import { detectEngine, docker, mayskip, run } from "./docker.ts";

// What the mesh-tls overlay's StatefulSet would run, run on Docker (its mesh links wss://, the
// relay verified by the CA in the Secret `openclaw-mesh-tls`, made here for the replicas' names): the rendered pod template's image,
// environment (ConfigMap, field references, Secret keys), volumes and security settings, three
// replicas named and reachable as `<set>-<i>.<svc>.<ns>.svc.cluster.local`. An emulation: no
// kubelet, scheduler, probes, NetworkPolicy or PVC provisioner (README, Kubernetes).

const engine = detectEngine();
const missingKubectl = kubectlMissing();
const skip = mayskip(
  missingKubectl ? { ...engine, skipReason: engine.skipReason ?? missingKubectl } : engine,
  "Kubernetes StatefulSet emulated on Docker",
);

const P = `k8semu${process.pid}`;
const OVERLAY = path.join(REPO_ROOT, "test/container/kubernetes-emulation");
// The Secret `openclaw-secrets`, as the README has the operator create it; the mocks take the same.
const SECRETS = {
  OPENCLAW_GATEWAY_TOKEN: "k8s-gateway-token-0123456789abcdef",
  CLAWMATRIX_SECRET: "k8s-mesh-secret-0123456789abcdef",
  AGENT_REGISTRY_API_KEY: "k8s-registry-key-0123456789abcdef",
  AUTH_MANAGER_INTERNAL_API_TOKEN: "k8s-broker-token-0123456789abcdef",
};
const MOCKS = {
  "mock-broker": ["test/mocks/broker/cli.ts", "--host", "0.0.0.0", "--port", "8080", "--credentials", "3"],
  "mock-registry": ["test/mocks/registry/cli.ts", "--host", "0.0.0.0", "--port", "8001"],
};

describe.skipIf(skip)("Kubernetes StatefulSet emulated on Docker", () => {
  let objects: K8sObject[];
  let set: ReturnType<typeof statefulSet>;
  let gateway: Container;
  const ports: Record<string, number> = {};
  const started = Date.now();

  const pod = (i: number) => `${set.name}-${i}`;
  const container = (i: number) => `${P}-${pod(i)}`;
  const dnsName = (i: number) =>
    `${pod(i)}.${set.spec.serviceName}.${set.namespace ?? "default"}.svc.cluster.local`;

  /** `docker run` of replica i, as the kubelet would start the pod from the rendered template. */
  async function runReplica(i: number): Promise<void> {
    const env = resolveEnv(
      objects,
      gateway,
      { name: pod(i), namespace: set.namespace ?? "default" },
      SECRETS,
    );
    const claims = new Set((set.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name));
    const emptyDirs = new Set(
      (set.spec.template.spec.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name),
    );
    const secretVolumes = new Map(
      ((set.spec.template.spec.volumes ?? []) as Array<{ name: string; secret?: { secretName?: string } }>)
        .filter((v) => v.secret?.secretName)
        .map((v) => [v.name, v.secret?.secretName as string]),
    );
    const mounts: string[] = [];
    for (const m of gateway.volumeMounts ?? []) {
      // A claim from a volumeClaimTemplate is named `<template>-<pod>`; it outlives the pod.
      if (claims.has(m.name)) mounts.push("-v", `${P}-${m.name}-${pod(i)}:${m.mountPath}`);
      // An emptyDir is world-writable (0777); Docker's tmpfs would be root's alone.
      else if (emptyDirs.has(m.name)) mounts.push("--tmpfs", `${m.mountPath}:rw,nosuid,nodev,mode=0777`);
      // A Secret volume: its keys as files, read-only (the kubelet's defaultMode and fsGroup
      // ownership are not emulated: the files are world-readable test material).
      else if (secretVolumes.get(m.name) === "openclaw-mesh-tls")
        mounts.push("-v", `${meshTlsDir()}:${m.mountPath}:ro`);
      else throw new Error(`volume ${m.name}: neither a claim nor an emptyDir, not emulated`);
    }
    const podSecurity = set.spec.template.spec.securityContext ?? {};
    const sc = gateway.securityContext ?? {};
    const args = [
      "run",
      "-d",
      "--name",
      container(i),
      "--hostname",
      pod(i),
      // A StatefulSet's pods restart in place (restartPolicy Always): so do these containers.
      "--restart",
      "always",
      "--network",
      P,
      "--network-alias",
      dnsName(i),
      "--user",
      `${podSecurity.runAsUser}:${podSecurity.runAsGroup}`,
      ...(sc.readOnlyRootFilesystem === true ? ["--read-only"] : []),
      ...(sc.allowPrivilegeEscalation === false ? ["--security-opt", "no-new-privileges"] : []),
      "--cap-drop",
      "ALL",
      "--memory",
      String(gateway.resources?.limits?.memory).replace(/Gi$/, "g").replace(/Mi$/, "m"),
      ...mounts,
      ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
      "-p",
      `127.0.0.1::${gateway.ports?.find((p) => p.name === "http")?.containerPort}`,
      gateway.image as string,
    ];
    await docker(...args);
    ports[pod(i)] = Number((await docker("port", container(i), "18789/tcp")).split(":").at(-1));
  }

  const invoke = async (i: number, tool: string) => {
    const r = await fetch(`http://127.0.0.1:${ports[pod(i)]}/tools/invoke`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${SECRETS.OPENCLAW_GATEWAY_TOKEN}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ tool, args: {} }),
      signal: AbortSignal.timeout(budget(60_000)),
    });
    return (await r.json()) as { result: { details: { peers: Array<{ nodeId: string; status: string }> } } };
  };
  const peersOf = async (i: number) => {
    try {
      return (await invoke(i, "cluster_peers")).result.details.peers;
    } catch {
      return [];
    }
  };
  const meshFormed = async () => {
    const views = await Promise.all([0, 1, 2].map(peersOf));
    return views.map((v) => v.map((p) => `${p.nodeId}:${p.status}`).sort());
  };
  const formed = (views: string[][]) =>
    views.every((v, i) =>
      [0, 1, 2].every(
        (j) => j === i || v.some((p) => p.startsWith(`${pod(j)}:`) && !p.endsWith(":unreachable")),
      ),
    );
  /** The Secret `openclaw-mesh-tls` as cert-manager writes it; one certificate for every replica. */
  let tlsDir: string | undefined;
  const meshTlsDir = () => {
    if (tlsDir) return tlsDir;
    const made = makeSelfSigned({ commonName: "openclaw-mesh", dnsNames: [0, 1, 2].map(dnsName) });
    tlsDir = mkdtempSync(path.join(tmpdir(), `${P}-mesh-tls-`));
    chmodSync(tlsDir, 0o755);
    const files = { "tls.crt": made.cert, "tls.key": made.key, "ca.crt": made.cert };
    for (const [name, text] of Object.entries(files))
      writeFileSync(path.join(tlsDir, name), text, { mode: 0o644 });
    return tlsDir;
  };
  const cat = async (i: number, file: string) => JSON.parse(await docker("exec", container(i), "cat", file));

  beforeAll(async () => {
    objects = await renderDir(OVERLAY);
    set = statefulSet(objects);
    gateway = set.spec.template.spec.containers[0] as Container;
    expect(set.spec.replicas).toBe(3);
    // The images compose builds (compose.test.ts), with the Pilot stand-in.
    // A cold build takes minutes on a busy machine: longer than docker()'s bound for one command.
    const build = (...args: string[]) =>
      run(
        "docker",
        ["build", "-q", "--build-arg", `OPENCLAW_IMAGE=${engine.baseImage}`, ...args, REPO_ROOT],
        {
          timeout: 900_000,
        },
      );
    await build("--build-arg", "PILOT_SOURCE=standin", "-t", gateway.image as string);
    await build("--target", "mocks", "-t", "openclaw-bundle-mocks:local");
    await docker("network", "create", P);
    for (const [name, cmd] of Object.entries(MOCKS))
      await docker(
        "run",
        "-d",
        "--name",
        `${P}-${name}`,
        "--network",
        P,
        "--network-alias",
        name,
        "-e",
        `MOCK_BROKER_LEASE_TOKEN=${SECRETS.AUTH_MANAGER_INTERNAL_API_TOKEN}`,
        "-e",
        `MOCK_REGISTRY_API_KEY=${SECRETS.AGENT_REGISTRY_API_KEY}`,
        "-e",
        "MOCK_BROKER_LEASE_RECLAIM_AFTER_SECONDS=900",
        "openclaw-bundle-mocks:local",
        ...cmd,
      );
    for (const i of [0, 1, 2]) await runReplica(i);
    await waitFor("the three replicas to form one mesh", meshFormed, formed, {
      ms: 300_000,
      intervalMs: 3000,
    });
    process.stdout.write(
      `emulated StatefulSet mesh formed in ${Math.round((Date.now() - started) / 1000)} s (build included)\n`,
    );
  }, 1_200_000);

  afterAll(async () => {
    const stats = await docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}").catch(() => "");
    process.stdout.write(
      `replica memory:\n${stats
        .split("\n")
        .filter((l) => l.startsWith(P))
        .join("\n")}\n`,
    );
    const names = (await docker("ps", "-aq", "--filter", `name=${P}`).catch(() => ""))
      .split("\n")
      .filter(Boolean);
    if (names.length > 0) await docker("rm", "-f", ...names).catch(() => "");
    const vols = (await docker("volume", "ls", "-q", "--filter", `name=${P}`).catch(() => ""))
      .split("\n")
      .filter(Boolean);
    if (vols.length > 0) await docker("volume", "rm", ...vols).catch(() => "");
    await docker("network", "rm", P).catch(() => "");
    if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
  }, 180_000);

  it("forms the mesh from the rendered env alone: replica 0 relays, the others dial it by DNS name", async () => {
    const zero = await peersOf(0);
    expect(zero.map((p) => `${p.nodeId}:${p.status}`).sort()).toEqual([
      `${pod(1)}:direct`,
      `${pod(2)}:direct`,
    ]);
    // Replicas 1 and 2 dial only the relay, so each reaches the other through it.
    expect((await peersOf(2)).find((p) => p.nodeId === pod(1))?.status).toBe("relay");
    const log = await docker("logs", container(1)).catch(() => "");
    expect(log).not.toContain("problem(s) in the environment");
    // Over TLS: the relay serves the Secret's certificate, the others dial wss:// by DNS name.
    expect(await docker("logs", container(0)).catch(() => "")).toMatch(/mesh listening on wss:\/\//);
    const config = await cat(1, "/home/node/.openclaw/openclaw.json");
    expect(config.plugins.entries.clawmatrix.config.peers).toEqual([
      { nodeId: pod(0), url: `wss://${dnsName(0)}:19000` },
    ]);
  });

  it("brings replica 1 back with its volumes: same node id, Pilot identity and lease", async () => {
    const lease = "/home/node/.openclaw/auth-manager/lease.json";
    const state = async () => ({
      identity: (await cat(1, "/home/node/.openclaw/bundle-identity.json")).name as string,
      pilot: (await cat(1, "/home/node/.pilot/identity.json")).node_id as number,
      lease: (await cat(1, lease)).leaseId as string,
    });
    // The lease and the Pilot identity are made in the background after the gateway is up.
    const before = await waitFor(
      "replica 1's lease and Pilot identity",
      () => state().catch(() => undefined),
      (s) => s !== undefined,
      {
        ms: 120_000,
        intervalMs: 2000,
      },
    );
    expect(before?.identity).toBe(pod(1));
    // A rescheduled pod: a new container on the same claims, after a stop within the grace period.
    const grace = set.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    await docker("stop", "-t", String(grace), container(1));
    expect(await docker("inspect", "-f", "{{.State.ExitCode}}", container(1))).toBe("0");
    await docker("rm", container(1));
    await runReplica(1);
    await waitFor("replica 1 back in the mesh", meshFormed, formed, { ms: 300_000, intervalMs: 3000 });
    expect(await state()).toEqual(before);
    expect((await peersOf(0)).find((p) => p.nodeId === pod(1))?.status).toBe("direct");
  });
});
