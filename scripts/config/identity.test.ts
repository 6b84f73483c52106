import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileProblem } from "./files.ts";
import { IDENTITY_FILE, loadIdentity } from "./identity.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});
async function stateDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "identity-"));
  dirs.push(d);
  return path.join(d, ".openclaw");
}

describe("loadIdentity", () => {
  it("keeps the first boot's hostname, and keeps it when the hostname changes", async () => {
    const dir = await stateDir();
    const first = await loadIdentity(dir, { HOSTNAME: "node-a" }, undefined, false);
    expect(first.name).toBe("node-a");
    expect(first.source).toMatch(/bundle-identity\.json, created now: the hostname at first boot$/);
    const file = path.join(dir, IDENTITY_FILE);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const again = await loadIdentity(dir, { HOSTNAME: "node-b" }, undefined, false);
    expect(again.name).toBe("node-a");
    expect(again.source).toMatch(/bundle-identity\.json, since \d{4}-\d\d-\d\d: the hostname at first boot$/);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("generates a name when the hostname looks like Docker's random one, and adopts an earlier boot's", async () => {
    const generated = await loadIdentity(await stateDir(), { HOSTNAME: "0123456789ab" }, undefined, false);
    expect(generated.name).toMatch(/^openclaw-[0-9a-f]{8}$/);
    expect(generated.source).toMatch(/generated at first boot/);
    const earlier = { plugins: { entries: { "agent-registry": { config: { hostname: "9876543210ab" } } } } };
    const adopted = await loadIdentity(await stateDir(), { HOSTNAME: "fedcba987654" }, earlier, false);
    expect(adopted).toMatchObject({ name: "9876543210ab" });
    expect(adopted.source).toMatch(/the registry hostname an earlier boot wrote/);
  });

  it("writes nothing in a dry run, agrees on one name when two boots race, and refuses a corrupt record", async () => {
    const dir = await stateDir();
    const dry = await loadIdentity(dir, { HOSTNAME: "0123456789ab" }, undefined, true);
    expect(dry.source).toMatch(/a dry run does not keep it/);
    await expect(fs.stat(dir)).rejects.toThrow(/ENOENT/);
    const raced = await Promise.all(
      Array.from({ length: 5 }, () => loadIdentity(dir, { HOSTNAME: "0123456789ab" }, undefined, false)),
    );
    expect(new Set(raced.map((r) => r.name)).size).toBe(1);
    await fs.writeFile(path.join(dir, IDENTITY_FILE), "{ half");
    await expect(loadIdentity(dir, {}, undefined, false)).rejects.toThrow(FileProblem);
    await expect(loadIdentity(dir, {}, undefined, false)).rejects.toThrow(/remove it to take a new identity/);
  });
});
