import { execFile, execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

/**
 * The Kustomize overlays of deploy/kubernetes, rendered as `kubectl kustomize` renders them for
 * `kubectl apply -k` (no cluster needed), and the parts of the result the checks and the Docker
 * emulation read.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const KUSTOMIZE_DIR = path.join(REPO_ROOT, "deploy/kubernetes");
export const OVERLAYS = ["single", "mesh", "mesh-tls"] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** A rendered object; only the fields every object has are typed, the rest is read defensively. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

const MAX_RENDER_BYTES = 4 * 1024 * 1024;

/** Why kubectl cannot render here (undefined when it can). */
export function kubectlMissing(): string | undefined {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore", timeout: 20_000 });
    return undefined;
  } catch {
    return "kubectl is not installed (Debian: apt-get install kubernetes-client)";
  }
}

export async function renderDir(dir: string): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)("kubectl", ["kustomize", dir], {
    timeout: 60_000,
    maxBuffer: MAX_RENDER_BYTES,
  });
  return parseObjects(stdout, dir);
}

export function renderOverlay(overlay: Overlay): Promise<K8sObject[]> {
  return renderDir(path.join(KUSTOMIZE_DIR, "overlays", overlay));
}

export function parseObjects(text: string, where: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]?.message}`);
    const o = doc.toJS() as Partial<K8sObject> | null;
    if (o === null) continue;
    if (
      typeof o?.apiVersion !== "string" ||
      typeof o.kind !== "string" ||
      typeof o.metadata?.name !== "string"
    )
      throw new Error(`${where}: an object without apiVersion, kind or metadata.name`);
    out.push(o as K8sObject);
  }
  return out;
}

export const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

// --- the pod template, as the emulation and the policy read it -----------------------------------

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath?: string };
    secretKeyRef?: { name?: string; key?: string; optional?: boolean };
    configMapKeyRef?: { name?: string; key?: string; optional?: boolean };
  };
}
export interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name?: string }; secretRef?: { name?: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: unknown;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
export interface StatefulSetSpec {
  replicas?: number;
  serviceName?: string;
  template: {
    spec: {
      containers: Container[];
      securityContext?: Record<string, unknown>;
      volumes?: Array<{ name: string; emptyDir?: unknown }>;
      terminationGracePeriodSeconds?: number;
    };
  };
  volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
}

export function statefulSet(objects: K8sObject[]): {
  name: string;
  namespace?: string;
  spec: StatefulSetSpec;
} {
  const sets = byKind(objects, "StatefulSet");
  if (sets.length !== 1) throw new Error(`expected one StatefulSet, found ${sets.length}`);
  const s = sets[0] as K8sObject;
  return { name: s.metadata.name, namespace: s.metadata.namespace, spec: s.spec as StatefulSetSpec };
}

/** The data of the rendered ConfigMap `name` (Kustomize rewrites references to its hashed name). */
export function configMapData(objects: K8sObject[], name: string): Record<string, string> | undefined {
  const cm = byKind(objects, "ConfigMap").find((o) => o.metadata.name === name);
  return cm ? ((cm.data as Record<string, string> | undefined) ?? {}) : undefined;
}

/**
 * The environment a container of replica `ordinal` gets, as the kubelet resolves it: ConfigMaps
 * from `envFrom`, then `env` in order (later wins), field references from the pod's name and
 * namespace, Secret keys from `secrets` (an absent optional key is left out, as Kubernetes does).
 */
export function resolveEnv(
  objects: K8sObject[],
  container: Container,
  pod: { name: string; namespace: string },
  secrets: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = from.configMapRef?.name;
    if (from.secretRef) throw new Error("envFrom secretRef: not used by the bundle's manifests");
    const data = cm === undefined ? undefined : configMapData(objects, cm);
    if (!data) throw new Error(`envFrom names ConfigMap ${cm}, which is not rendered`);
    Object.assign(env, data);
  }
  const fields: Record<string, string> = { "metadata.name": pod.name, "metadata.namespace": pod.namespace };
  for (const e of container.env ?? []) {
    const v = e.valueFrom;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (v?.fieldRef?.fieldPath) {
      const f = fields[v.fieldRef.fieldPath];
      if (f === undefined) throw new Error(`${e.name}: field ${v.fieldRef.fieldPath} is not emulated`);
      env[e.name] = f;
    } else if (v?.secretKeyRef?.key) {
      const s = secrets[v.secretKeyRef.key];
      if (s !== undefined) env[e.name] = s;
      else if (!v.secretKeyRef.optional)
        throw new Error(`${e.name}: secret key ${v.secretKeyRef.key} missing`);
    } else if (v?.configMapKeyRef?.key && v.configMapKeyRef.name) {
      const d = configMapData(objects, v.configMapKeyRef.name)?.[v.configMapKeyRef.key];
      if (d !== undefined) env[e.name] = d;
    }
  }
  return env;
}
