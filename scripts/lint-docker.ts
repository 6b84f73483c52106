import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { lintCompose, lintDockerfile } from "./lint/docker.ts";

/**
 * `npm run lint:docker`: the Dockerfiles through dockerfile-utils' linter, and docker-compose.yml
 * against the Compose Specification schema plus a check that every volume, network and
 * `depends_on` service it names is declared. Needs no Docker engine; exits 1 on any finding.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  dockerfiles: ["Dockerfile", "scripts/docker/base.Dockerfile"],
  compose: "docker-compose.yml",
};

const findings: string[] = [];
for (const f of files.dockerfiles)
  for (const p of lintDockerfile(readFileSync(path.join(root, f), "utf8"))) findings.push(`${f}:${p}`);
for (const p of lintCompose(readFileSync(path.join(root, files.compose), "utf8")))
  findings.push(`${files.compose}: ${p}`);

for (const f of findings) process.stderr.write(`${f}\n`);
process.stdout.write(
  findings.length === 0
    ? `lint:docker: ${files.dockerfiles.length} Dockerfiles and ${files.compose} are clean\n`
    : `lint:docker: ${findings.length} finding(s)\n`,
);
process.exitCode = findings.length === 0 ? 0 : 1;
