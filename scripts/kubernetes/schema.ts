import type { K8sObject } from "./render.ts";

/**
 * Every rendered object against the Kubernetes API's JSON schemas, as the npm package
 * kubernetes-models (pinned in package.json) compiled them from the Kubernetes OpenAPI spec: types,
 * required fields, formats. Those schemas allow fields they do not know (as the API server's
 * non-strict decoding does), so a misspelled optional field passes here; the policy checks cover
 * the fields the bundle relies on.
 */

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** `apps/v1` -> `apps/v1`, `v1` -> `v1`, `networking.k8s.io/v1` -> itself: the package's folders. */
function modulePath(apiVersion: string, kind: string): string | undefined {
  if (!/^([a-z0-9.-]+\/)?v\d+([a-z]+\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]{0,62}$/.test(kind))
    return undefined;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

export async function schemaProblems(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata.name}`;
    const mod = modulePath(o.apiVersion, o.kind);
    let Model: ModelClass | undefined;
    if (mod) {
      try {
        const m = (await import(mod)) as Record<string, ModelClass>;
        Model = m[o.kind];
      } catch {}
    }
    if (!Model) {
      problems.push(`${where}: no schema for ${o.apiVersion} ${o.kind} (not a Kubernetes API type)`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  return problems;
}
