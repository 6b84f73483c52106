import { describe, expect, it } from "vitest";
import { type Contract, loadContract, policyProblems } from "./policy.ts";
import {
  configMapData,
  type K8sObject,
  kubectlMissing,
  OVERLAYS,
  type Overlay,
  renderOverlay,
  statefulSet,
} from "./render.ts";
import { schemaProblems } from "./schema.ts";

// deploy/kubernetes rendered by `kubectl kustomize` (Debian's kubernetes-client), every object
// validated against the Kubernetes API schemas of the pinned kubernetes-models package, and the
// bundle's policy. Each check is also shown to fail on a manifest broken on purpose.

const missing = kubectlMissing();
if (missing && process.env.CI === "true")
  describe("Kubernetes manifests", () => {
    it("can render (CI=true: this check never skips)", () => {
      throw new Error(`cannot render the overlays: ${missing}`);
    });
  });
else if (missing) process.stdout.write(`Kubernetes manifests: skipped, ${missing}\n`);

const contract: Contract = loadContract();
const clone = (objects: K8sObject[]) => structuredClone(objects);

describe.skipIf(missing !== undefined)("Kubernetes manifests", () => {
  const rendered = new Map<Overlay, K8sObject[]>();
  const render = async (o: Overlay) => {
    const got = rendered.get(o) ?? (await renderOverlay(o));
    rendered.set(o, got);
    return clone(got);
  };

  it.each(OVERLAYS)("overlay %s renders and passes the schemas and the policy", async (overlay) => {
    const objects = await render(overlay);
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ["ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Service", "Service", "StatefulSet"].sort(),
    );
    expect(await schemaProblems(objects)).toEqual([]);
    expect(policyProblems(objects, contract)).toEqual([]);
    expect(statefulSet(objects).spec.replicas).toBe(overlay === "single" ? 1 : 3);
  });

  it("mesh-tls: the TLS files the env names are on a read-only Secret volume, group-readable only", async () => {
    const objects = await render("mesh-tls");
    const set = statefulSet(objects);
    const container = set.spec.template.spec.containers[0];
    const env = configMapData(objects, container?.envFrom?.[0]?.configMapRef?.name ?? "") ?? {};
    const volumes = (set.spec.template.spec.volumes ?? []) as Array<{
      name: string;
      secret?: { secretName?: string; defaultMode?: number };
    }>;
    for (const name of ["CLAWMATRIX_TLS_CERT_FILE", "CLAWMATRIX_TLS_KEY_FILE", "CLAWMATRIX_TLS_CA_FILE"]) {
      const file = env[name] as string;
      const mount = container?.volumeMounts?.find((m) => file?.startsWith(`${m.mountPath}/`));
      expect(mount, name).toMatchObject({ readOnly: true });
      const volume = volumes.find((v) => v.name === mount?.name);
      expect(volume?.secret, name).toEqual({ secretName: "openclaw-mesh-tls", defaultMode: 0o440 });
    }
  });

  it("catches an object that breaks the API schema, or is no API type", async () => {
    const objects = await render("mesh");
    const set = objects.find((o) => o.kind === "StatefulSet") as K8sObject & { spec: { replicas: unknown } };
    set.spec.replicas = "three";
    objects.push({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } });
    const problems = await schemaProblems(objects);
    expect(problems).toEqual([
      expect.stringMatching(/^StatefulSet\/openclaw: .*replicas must be integer/),
      "Widget/w: no schema for example.com/v1 Widget (not a Kubernetes API type)",
    ]);
  });

  // Each breaks one rule on the rendered mesh overlay; the policy must name it.
  const breakages: Array<[string, (objects: K8sObject[]) => void, RegExp]> = [
    ["root user", (o) => (pod(o).securityContext.runAsUser = 0), /runAsUser is not a non-zero uid/],
    [
      "privilege escalation",
      (o) => delete gateway(o).securityContext.allowPrivilegeEscalation,
      /allowPrivilegeEscalation/,
    ],
    [
      "writable root",
      (o) => (gateway(o).securityContext.readOnlyRootFilesystem = false),
      /readOnlyRootFilesystem/,
    ],
    ["no liveness probe", (o) => delete gateway(o).livenessProbe, /no livenessProbe/],
    ["no memory limit", (o) => delete gateway(o).resources.limits.memory, /no resources\.limits\.memory/],
    [
      "a secret literal in env",
      (o) => {
        const e = gateway(o).env.find((x: { name: string }) => x.name === "CLAWMATRIX_SECRET");
        delete e.valueFrom;
        e.value = "mesh-secret-0123456789abcdef";
      },
      /env CLAWMATRIX_SECRET: a secret variable not taken from a Secret/,
    ],
    [
      "a secret in the ConfigMap",
      (o) => (configMap(o).data.AGENT_REGISTRY_API_KEY = "k".repeat(20)),
      /ConfigMap .*: AGENT_REGISTRY_API_KEY is a secret/,
    ],
    [
      "a Secret object",
      (o) => o.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } }),
      /Secret\/s: rendered/,
    ],
    [
      "another image",
      (o) => (gateway(o).image = "openclaw-bundle:other"),
      /image openclaw-bundle:other, compose runs openclaw-bundle:local/,
    ],
    [
      "an unknown variable",
      (o) => gateway(o).env.push({ name: "CLAWMATRIX_PEER", value: "x" }),
      /env CLAWMATRIX_PEER: not a variable of the bundle/,
    ],
    [
      "a compose secret left out",
      (o) =>
        (gateway(o).env = gateway(o).env.filter(
          (x: { name: string }) => x.name !== "AGENT_REGISTRY_API_KEY",
        )),
      /env AGENT_REGISTRY_API_KEY: compose passes this secret/,
    ],
    [
      "state not on a claim",
      (o) =>
        (gateway(o).volumeMounts = gateway(o).volumeMounts.filter(
          (m: { name: string }) => m.name !== "pilot",
        )),
      /\/home\/node\/\.pilot: not mounted from a volumeClaimTemplate/,
    ],
    [
      "peer DNS without not-ready addresses",
      (o) => (headless(o).spec.publishNotReadyAddresses = false),
      /publishNotReadyAddresses is not true/,
    ],
    [
      "a service name the replicas do not dial",
      (o) => (configMap(o).data.CLAWMATRIX_STATEFULSET_SERVICE = "other"),
      /CLAWMATRIX_STATEFULSET_SERVICE other is not the headless Service openclaw-mesh/,
    ],
    [
      "the mesh port open to all",
      (o) => delete netpol(o).spec.ingress[0].from,
      /opens the mesh port 19000 to more than the mesh's pods/,
    ],
    [
      "no disruption budget",
      (o) =>
        o.splice(
          o.findIndex((x) => x.kind === "PodDisruptionBudget"),
          1,
        ),
      /no PodDisruptionBudget/,
    ],
  ];

  it.each(breakages)("catches %s", async (_what, breakIt, expected) => {
    const objects = await render("mesh");
    breakIt(objects);
    const problems = policyProblems(objects, contract);
    expect(
      problems.some((p) => expected.test(p)),
      problems.join("\n"),
    ).toBe(true);
  });
});

// biome-ignore-start lint/suspicious/noExplicitAny: the breakages edit plain rendered YAML
const find = (o: K8sObject[], pred: (x: K8sObject) => boolean): any => o.find(pred);
const pod = (o: K8sObject[]): any => find(o, (x) => x.kind === "StatefulSet").spec.template.spec;
const gateway = (o: K8sObject[]): any => pod(o).containers[0];
const headless = (o: K8sObject[]): any =>
  find(o, (x) => x.kind === "Service" && (x as any).spec.clusterIP === "None");
const netpol = (o: K8sObject[]): any => find(o, (x) => x.kind === "NetworkPolicy");
const configMap = (o: K8sObject[]): any => find(o, (x) => x.kind === "ConfigMap");
// biome-ignore-end lint/suspicious/noExplicitAny: the breakages edit plain rendered YAML
