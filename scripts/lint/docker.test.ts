import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../test/harness/node24.ts";
import { lintCompose, lintDockerfile } from "./docker.ts";

const compose = readFileSync(path.join(REPO_ROOT, "docker-compose.yml"), "utf8");
const dockerfile = readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8");

describe("lint:docker", () => {
  it("passes the repository's Dockerfile and compose file", () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
    expect(lintCompose(compose)).toEqual([]);
  });

  it("names the line of a Dockerfile mistake", () => {
    const bad = dockerfile.replace(/^USER node$/m, "USR node").replace(/^EXPOSE .*$/m, "EXPOSE http");
    const findings = lintDockerfile(bad);
    expect(findings.some((f) => /^\d+:\d+ .*USR/.test(f))).toBe(true);
  });

  it("names an unknown key and a bad depends_on condition by their path", () => {
    const bad = compose
      .replace("    interval: 5s\n", "    intervall: 5s\n")
      .replace("mock-llm: { condition: service_healthy }", "mock-llm: { condition: service_hapy }");
    const findings = lintCompose(bad);
    expect(findings).toContain('/services/node-b/healthcheck: unknown key "intervall"');
    expect(findings).toHaveLength(1 + 3); // the healthcheck of each bundle service, then the condition
    expect(findings.join("\n")).toMatch(
      /\/services\/node-a\/depends_on\/mock-llm\/condition: must be equal to one of the allowed values/,
    );
  });

  it("names a volume, network or service that is used but not declared", () => {
    const bad = compose
      .replace("node-b-pilot:/home/node/.pilot", "node-b-pilott:/home/node/.pilot")
      .replace("node-a: { condition: service_healthy }", "node-z: { condition: service_healthy }")
      .replace("    hostname: node-c\n", "    hostname: node-c\n    networks: [mesh]\n");
    expect(lintCompose(bad)).toEqual([
      'services.node-b.depends_on: no service "node-z"',
      'services.node-b.volumes: "node-b-pilott" is not declared under volumes',
      'services.node-c.networks: "mesh" is not declared under networks',
    ]);
  });

  it("reports YAML it cannot read", () => {
    expect(lintCompose("services: [\n")[0]).toMatch(/^not valid YAML: /);
  });
});
