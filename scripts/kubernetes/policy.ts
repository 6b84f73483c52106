import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  byKind,
  type Container,
  configMapData,
  type K8sObject,
  REPO_ROOT,
  type StatefulSetSpec,
  statefulSet,
} from "./render.ts";

/**
 * What the bundle's manifests must hold beyond the API schemas: non-root and hardened, probes and
 * resources on every container, no secret in a literal value, and the same image, variables,
 * ports and state paths as docker-compose.yml (the contract the container tests check). Pure: the
 * compose and source facts come in as a `Contract`, so a test can break any rule and see it caught.
 */

export interface Contract {
  /** The image compose's gateway services run. */
  image: string;
  /** Variables the compose gateway services set. */
  composeEnv: Set<string>;
  /** Variables the config step reads (the README's table is checked against the same sources). */
  knownEnv: Set<string>;
  /** Variables whose values are secrets (settings.ts reads them with `secret()`). */
  secretEnv: Set<string>;
  /** Where the gateway services keep their state (compose's volume mount paths). */
  statePaths: string[];
  /** The container ports compose's gateway services publish. */
  ports: number[];
}

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), "utf8");

export function loadContract(): Contract {
  const compose = parse(read("docker-compose.yml"), { merge: true }) as {
    services: Record<
      string,
      { image?: string; environment?: Record<string, unknown>; ports?: string[]; volumes?: string[] }
    >;
  };
  const gateways = Object.values(compose.services).filter((s) => s.image?.startsWith("openclaw-bundle:"));
  const images = new Set(gateways.map((s) => s.image));
  if (gateways.length === 0 || images.size !== 1)
    throw new Error(
      `docker-compose.yml: expected gateway services with one openclaw-bundle image, found ${[...images]}`,
    );
  const secretEnv = new Set<string>();
  const knownEnv = new Set<string>();
  for (const file of ["settings.ts", "statefulset.ts"]) {
    const text = read(`scripts/config/${file}`);
    for (const m of text.matchAll(/\b(?:secret|secrets\.add)\(\s*"([A-Z][A-Z0-9_]+)"/g))
      secretEnv.add(m[1] as string);
    for (const m of text.matchAll(/\br\.\w+\(\s*"([A-Z][A-Z0-9_]+)"/g)) knownEnv.add(m[1] as string);
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) knownEnv.add(m[1] as string);
  }
  return {
    image: [...images][0] as string,
    composeEnv: new Set(gateways.flatMap((s) => Object.keys(s.environment ?? {}))),
    knownEnv,
    secretEnv,
    statePaths: [
      ...new Set(gateways.flatMap((s) => (s.volumes ?? []).map((v) => v.split(":")[1] as string))),
    ],
    ports: [...new Set(gateways.flatMap((s) => (s.ports ?? []).map((p) => Number(p.split(":").at(-1)))))],
  };
}

const get = (o: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>(
    (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );

function containerProblems(c: Container, podSecurity: Record<string, unknown> | undefined): string[] {
  const p: string[] = [];
  const where = `container ${c.name}`;
  const sc = c.securityContext ?? {};
  const runAsUser = sc.runAsUser ?? podSecurity?.runAsUser;
  if ((sc.runAsNonRoot ?? podSecurity?.runAsNonRoot) !== true) p.push(`${where}: runAsNonRoot is not true`);
  if (typeof runAsUser !== "number" || runAsUser === 0) p.push(`${where}: runAsUser is not a non-zero uid`);
  if (sc.privileged === true) p.push(`${where}: privileged`);
  if (sc.allowPrivilegeEscalation !== false) p.push(`${where}: allowPrivilegeEscalation is not false`);
  if (sc.readOnlyRootFilesystem !== true) p.push(`${where}: readOnlyRootFilesystem is not true`);
  if (!((get(sc, "capabilities", "drop") as string[] | undefined) ?? []).includes("ALL"))
    p.push(`${where}: capabilities do not drop ALL`);
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"] as const)
    if (!c[probe]) p.push(`${where}: no ${probe}`);
  for (const [kind, keys] of [
    ["requests", ["cpu", "memory"]],
    ["limits", ["memory"]],
  ] as const)
    for (const k of keys) if (!c.resources?.[kind]?.[k]) p.push(`${where}: no resources.${kind}.${k}`);
  return p;
}

/** A value that looks like a credential, in a variable whose name says it holds one. */
const SECRETISH_NAME = /TOKEN|SECRET|PASSWORD|API_KEY|ACTIVATION_CODE|CREDENTIAL/;

export function policyProblems(objects: K8sObject[], c: Contract): string[] {
  const p: string[] = [];
  for (const o of byKind(objects, "Secret"))
    p.push(
      `Secret/${o.metadata.name}: rendered with the manifests (secrets are created by hand, never committed)`,
    );
  const set = statefulSet(objects);
  const spec = set.spec.template.spec;
  for (const container of spec.containers) {
    p.push(...containerProblems(container, spec.securityContext));
    if (container.image !== c.image)
      p.push(`container ${container.name}: image ${container.image}, compose runs ${c.image}`);
    const names: string[] = [];
    for (const e of container.env ?? []) {
      names.push(e.name);
      if (c.secretEnv.has(e.name) && !e.valueFrom?.secretKeyRef)
        p.push(`env ${e.name}: a secret variable not taken from a Secret (secretKeyRef)`);
      if (e.value !== undefined && SECRETISH_NAME.test(e.name))
        p.push(`env ${e.name}: a literal value in a variable named like a secret`);
    }
    for (const from of container.envFrom ?? []) {
      const data = from.configMapRef?.name ? configMapData(objects, from.configMapRef.name) : undefined;
      if (!data) {
        p.push(`envFrom: ConfigMap ${from.configMapRef?.name} is not rendered`);
        continue;
      }
      for (const k of Object.keys(data)) {
        names.push(k);
        if (c.secretEnv.has(k) || SECRETISH_NAME.test(k))
          p.push(`ConfigMap ${from.configMapRef?.name}: ${k} is a secret (literal value in a ConfigMap)`);
      }
    }
    for (const n of names)
      if (!c.knownEnv.has(n) && !c.composeEnv.has(n))
        p.push(`env ${n}: not a variable of the bundle (compose and the config step know no such name)`);
    for (const n of c.composeEnv)
      if (c.secretEnv.has(n) && !names.includes(n))
        p.push(`env ${n}: compose passes this secret to the gateways; the StatefulSet does not`);
    const mounts = new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    const claims = new Set((set.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name));
    for (const sp of c.statePaths) {
      const vol = mounts.get(sp);
      if (!vol || !claims.has(vol))
        p.push(`${sp}: not mounted from a volumeClaimTemplate (state kept by compose's volumes)`);
    }
    const ports = new Set((container.ports ?? []).map((x) => x.containerPort));
    for (const port of c.ports)
      if (!ports.has(port)) p.push(`container port ${port} (published by compose) is not declared`);
  }
  p.push(...meshProblems(objects, set.spec));
  return p;
}

/** The StatefulSet, its headless Service and the peer variables must name the same things. */
function meshProblems(objects: K8sObject[], spec: StatefulSetSpec): string[] {
  const p: string[] = [];
  const headless = byKind(objects, "Service").find((s) => get(s, "spec", "clusterIP") === "None");
  if (!headless) return ["no headless Service (clusterIP: None) for the replicas' DNS names"];
  if (spec.serviceName !== headless.metadata.name)
    p.push(
      `StatefulSet serviceName ${spec.serviceName} is not the headless Service ${headless.metadata.name}`,
    );
  if (get(headless, "spec", "publishNotReadyAddresses") !== true)
    p.push(
      `Service/${headless.metadata.name}: publishNotReadyAddresses is not true (peers could not dial a starting replica)`,
    );
  for (const container of spec.template.spec.containers)
    for (const from of container.envFrom ?? []) {
      const svc = configMapData(objects, from.configMapRef?.name ?? "")?.CLAWMATRIX_STATEFULSET_SERVICE;
      if (svc !== undefined && svc !== headless.metadata.name)
        p.push(`CLAWMATRIX_STATEFULSET_SERVICE ${svc} is not the headless Service ${headless.metadata.name}`);
    }
  if (byKind(objects, "PodDisruptionBudget").length === 0) p.push("no PodDisruptionBudget");
  p.push(...networkProblems(objects, spec));
  return p;
}

/** The mesh port must be open to the mesh's own pods only. */
function networkProblems(objects: K8sObject[], spec: StatefulSetSpec): string[] {
  const meshPort = spec.template.spec.containers
    .flatMap((c) => c.ports ?? [])
    .find((x) => x.name === "mesh")?.containerPort;
  if (meshPort === undefined) return ["no container port named mesh"];
  const policies = byKind(objects, "NetworkPolicy");
  if (policies.length === 0) return ["no NetworkPolicy"];
  const p: string[] = [];
  let allowed = false;
  for (const np of policies)
    for (const rule of (get(np, "spec", "ingress") as Array<Record<string, unknown>> | undefined) ?? []) {
      const ports = (rule.ports as Array<{ port?: number | string }> | undefined) ?? [];
      const opens = ports.length === 0 || ports.some((x) => x.port === meshPort || x.port === "mesh");
      if (!opens) continue;
      const from = (rule.from as Array<Record<string, unknown>> | undefined) ?? [];
      const onlyMesh =
        from.length > 0 &&
        from.every(
          (f) =>
            get(f, "podSelector", "matchLabels", "app.kubernetes.io/component") === "gateway" &&
            !f.namespaceSelector &&
            !f.ipBlock,
        );
      if (onlyMesh) allowed = true;
      else
        p.push(
          `NetworkPolicy/${np.metadata.name}: opens the mesh port ${meshPort} to more than the mesh's pods`,
        );
    }
  if (!allowed) p.push(`no NetworkPolicy rule lets the mesh's pods reach each other on port ${meshPort}`);
  return p;
}
