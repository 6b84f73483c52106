import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { describe, it } from "vitest";

/** Docker helpers for the container tests: engine detection with a reason, and plain CLI calls. */

export const run = promisify(execFile);

function ok(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore", timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

export interface Engine {
  /** Why the container tests cannot run here, or undefined when they can. */
  skipReason?: string;
  /** Compose v2 plugin (`docker compose`) or Debian's standalone `docker-compose`. */
  standaloneCompose: boolean;
  baseImage: string;
}

export function detectEngine(): Engine {
  const baseImage = process.env.OPENCLAW_IMAGE || "openclaw-base:local";
  const standaloneCompose = !ok("docker", ["compose", "version"]);
  if (!ok("docker", ["info"]))
    return {
      skipReason: "no usable Docker engine (docker info failed; .ci/run starts one)",
      standaloneCompose,
      baseImage,
    };
  if (standaloneCompose && !ok("docker-compose", ["version"]))
    return {
      skipReason: "neither `docker compose` nor `docker-compose` is installed",
      standaloneCompose,
      baseImage,
    };
  if (!ok("docker", ["image", "inspect", baseImage]))
    return {
      skipReason: `base image ${baseImage} is missing (no registry here: build it with scripts/docker/build-base.sh)`,
      standaloneCompose,
      baseImage,
    };
  return { standaloneCompose, baseImage };
}

/**
 * Whether a container suite skips: only where it cannot run and this is not CI, printing why. With
 * CI=true a suite that cannot run fails instead, with one test that names what is missing.
 */
export function mayskip(engine: Engine, suite: string): boolean {
  const reason = engine.skipReason;
  if (!reason) return false;
  if (process.env.CI !== "true") {
    process.stdout.write(`${suite}: skipped, ${reason}\n`);
    return true;
  }
  describe(suite, () => {
    it("can run (CI=true: a container test never skips)", () => {
      throw new Error(`${suite} cannot run: ${reason}`);
    });
  });
  return true;
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { timeout: 120_000 });
  return stdout.trim();
}
