// biome-ignore-all lint/suspicious/noExplicitAny: the tests read deep paths of plain JSON
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findNode24, REPO_ROOT } from "../harness/node24.ts";

// entrypoint.sh against real files and processes, with a stand-in command in place of the gateway
// (the topology test runs it with real gateways). No Docker needed.

const ENTRYPOINT = path.join(REPO_ROOT, "entrypoint.sh");
const TOKEN = "gateway-token-abcdef0123456789";
const SECRET = "mesh-secret-0123456789abcdef";
const BROKER_TOKEN = "broker-token-0123456789abcdef";
const CODE = "ac_0123456789abcdefghijKLMNOP";

const homes: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const h of homes.splice(0)) await fs.rm(h, { recursive: true, force: true });
});

async function newHome(): Promise<string> {
  const h = await fs.mkdtemp(path.join(os.tmpdir(), "entrypoint-"));
  homes.push(h);
  return h;
}

function baseEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(findNode24())}:/usr/bin:/bin`,
    HOME: home,
    HOSTNAME: "test-node",
    OPENCLAW_GATEWAY_TOKEN: TOKEN,
    OPENCLAW_GATEWAY_BIND: "loopback",
    ...extra,
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(ENTRYPOINT, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const configOf = async (home: string) =>
  JSON.parse(await fs.readFile(path.join(home, ".openclaw/openclaw.json"), "utf8")) as Record<string, any>;

describe("entrypoint.sh", () => {
  it("creates a valid config on first boot, updates only managed keys later, and rewrites nothing unchanged", async () => {
    const home = await newHome();
    const env1 = baseEnv(home, { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_TAGS: "review" });
    const first = await run(["true"], env1);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/created .*openclaw\.json/);
    const file = path.join(home, ".openclaw/openclaw.json");
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const c1 = await configOf(home);
    expect(c1.plugins.entries.clawmatrix).toMatchObject({
      enabled: true,
      config: { nodeId: "test-node", tags: ["review"] },
    });

    // The user adds keys of their own.
    c1.agents = { list: [{ id: "main", name: "Mine" }] };
    c1.plugins.entries.clawmatrix.config.handoffTimeout = 5000;
    await fs.writeFile(file, JSON.stringify(c1, null, 2));

    const second = await run(["true"], {
      ...env1,
      CLAWMATRIX_TAGS: "review,coding",
      OPENCLAW_GATEWAY_PORT: "18800",
    });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/updated /);
    const c2 = await configOf(home);
    expect(c2.gateway.port).toBe(18800);
    expect(c2.plugins.entries.clawmatrix.config).toMatchObject({
      tags: ["review", "coding"],
      handoffTimeout: 5000,
    });
    expect(c2.agents).toEqual({ list: [{ id: "main", name: "Mine" }] });

    const before = await fs.stat(file);
    const third = await run(["true"], {
      ...env1,
      CLAWMATRIX_TAGS: "review,coding",
      OPENCLAW_GATEWAY_PORT: "18800",
    });
    expect(third.code).toBe(0);
    expect(third.stderr).toMatch(/already up to date/);
    const after = await fs.stat(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it("stops on a corrupt openclaw.json with a clear message and leaves the file as it was", async () => {
    const home = await newHome();
    const file = path.join(home, ".openclaw/openclaw.json");
    await fs.mkdir(path.dirname(file), { recursive: true });
    const corrupt = '{ "gateway": { "port": 1, ';
    await fs.writeFile(file, corrupt);
    const r = await run(["true"], baseEnv(home));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/openclaw\.json does not parse .*left unchanged/);
    expect(r.stderr).toMatch(/not starting/);
    expect(await fs.readFile(file, "utf8")).toBe(corrupt);
  });

  it("writes a symlinked openclaw.json through to its target, and refuses a link to nothing", async () => {
    const home = await newHome();
    const kept = path.join(home, "kept");
    await fs.mkdir(kept);
    await fs.mkdir(path.join(home, ".openclaw"));
    const link = path.join(home, ".openclaw/openclaw.json");
    await fs.writeFile(path.join(kept, "openclaw.json"), '{ "agents": { "list": [{ "id": "main" }] } }');
    await fs.symlink(path.join(kept, "openclaw.json"), link);
    const env = baseEnv(home);
    const r = await run(["true"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/updated .*openclaw\.json \(through a symlink, to .*kept\/openclaw\.json\)/);
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
    const target = JSON.parse(await fs.readFile(path.join(kept, "openclaw.json"), "utf8"));
    expect(target.agents).toEqual({ list: [{ id: "main" }] });
    expect(target.gateway.port).toBe(18789);
    expect((await fs.stat(path.join(kept, "openclaw.json"))).mode & 0o777).toBe(0o600);
    // A later change still reaches the target.
    const r2 = await run(["true"], { ...env, OPENCLAW_GATEWAY_PORT: "18801" });
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(await fs.readFile(path.join(kept, "openclaw.json"), "utf8")).gateway.port).toBe(18801);
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);

    await fs.rm(path.join(kept, "openclaw.json"));
    const dangling = await run(["true"], env);
    expect(dangling.code).toBe(3);
    expect(dangling.stderr).toMatch(
      /openclaw\.json is a symlink to .*, which does not exist; create the target/,
    );
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
  });

  it("undoes the mesh's platform patch when the mesh is turned off, and keeps the user's own keys", async () => {
    const home = await newHome();
    const on = await run(["true"], baseEnv(home, { CLAWMATRIX_SECRET: SECRET }));
    expect(on.code, on.stderr).toBe(0);
    expect((await configOf(home)).gateway.http.endpoints.chatCompletions.enabled).toBe(true);
    const record = path.join(home, ".openclaw/bundle-owned.json");
    expect((await fs.stat(record)).mode & 0o777).toBe(0o600);
    const c = await configOf(home);
    c.gateway.http.endpoints.responses = { enabled: true }; // the user's own
    await fs.writeFile(path.join(home, ".openclaw/openclaw.json"), JSON.stringify(c));
    const off = await run(["true"], baseEnv(home));
    expect(off.code, off.stderr).toBe(0);
    expect((await configOf(home)).gateway.http).toEqual({ endpoints: { responses: { enabled: true } } });
  });

  it("makes an existing 0644 openclaw.json 0600 even when nothing else changes", async () => {
    const home = await newHome();
    const env = baseEnv(home);
    expect((await run(["true"], env)).code).toBe(0);
    const file = path.join(home, ".openclaw/openclaw.json");
    await fs.chmod(file, 0o644);
    const r = await run(["true"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/already up to date/);
    expect(r.stderr).toMatch(/made .*openclaw\.json 0600 \(was 0644\)/);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it("keeps every secret out of openclaw.json and out of its output", async () => {
    const home = await newHome();
    const env = baseEnv(home, {
      CLAWMATRIX_SECRET: SECRET,
      AUTH_MANAGER_BASE_URL: "http://127.0.0.1:9",
      AUTH_MANAGER_INTERNAL_API_TOKEN: BROKER_TOKEN,
      AGENTRUX_COMMAND_TOPIC_ID: "cmd",
      AGENTRUX_RESULT_TOPIC_ID: "res",
      AGENTRUX_ACTIVATION_CODE: CODE,
    });
    const r = await run(["true"], env);
    const dry = await run(["--dry-run"], env);
    const text = await fs.readFile(path.join(home, ".openclaw/openclaw.json"), "utf8");
    for (const secret of [TOKEN, SECRET, BROKER_TOKEN, CODE]) {
      expect(text).not.toContain(secret);
      expect(r.stdout + r.stderr + dry.stdout + dry.stderr).not.toContain(secret);
    }
    expect(text).toContain("${CLAWMATRIX_SECRET}");
    expect(dry.stdout).toContain("${AUTH_MANAGER_INTERNAL_API_TOKEN}");
  });

  it("hands the activation code to BOOTSTRAP.md on first boot, and not when credentials exist", async () => {
    const home = await newHome();
    const env = baseEnv(home, { AGENTRUX_ACTIVATION_CODE: CODE });
    const r = await run(["true"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/handed the AgenTrux activation code/);
    const dir = path.join(home, ".agentrux");
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(dir, "BOOTSTRAP.md"))).mode & 0o777).toBe(0o600);
    expect(await fs.readFile(path.join(dir, "BOOTSTRAP.md"), "utf8")).toBe(`${CODE}\n`);

    const home2 = await newHome();
    await fs.mkdir(path.join(home2, ".agentrux"), { mode: 0o700 });
    await fs.writeFile(path.join(home2, ".agentrux/credentials.json"), "{}", { mode: 0o600 });
    const r2 = await run(["true"], baseEnv(home2, { AGENTRUX_ACTIVATION_CODE: CODE }));
    expect(r2.code).toBe(0);
    expect(r2.stderr).toMatch(/credentials exist; not handing it over/);
    await expect(fs.stat(path.join(home2, ".agentrux/BOOTSTRAP.md"))).rejects.toThrow(/ENOENT/);
  });

  it("gives each bad variable its own line and exits non-zero before touching anything", async () => {
    const home = await newHome();
    const r = await run(["true"], {
      ...baseEnv(home, {
        OPENCLAW_GATEWAY_PORT: "http",
        CLAWMATRIX_SECRET: "too-short",
        CLAWMATRIX_MODELS: "[oops",
        CLAWMATRIX_AGENTS: "x\nFAKE_VAR: spoofed",
        AGENT_REGISTRY_URL: "registry.local",
        AUTH_MANAGER_BASE_URL: "http://remote-host:8080",
        AUTH_MANAGER_INTERNAL_API_TOKEN: BROKER_TOKEN,
      }),
    });
    expect(r.code).toBe(2);
    const lines = r.stderr.split("\n");
    // A newline in a value stays inside its own line: no forged line.
    expect(lines.filter((l) => l.startsWith("FAKE_VAR"))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^CLAWMATRIX_AGENTS: not valid JSON .*\\nFAKE_VAR/));
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^AUTH_MANAGER_BASE_URL: "http:\/\/remote-host:8080" is plain http off localhost; expected an https:\/\/ URL, or AUTH_MANAGER_ALLOW_HTTP=true/,
      ),
    );
    expect(r.stderr).not.toContain(BROKER_TOKEN);
    expect(lines).toContainEqual(
      expect.stringMatching(/^OPENCLAW_GATEWAY_PORT: "http" is not valid; expected an integer port/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^CLAWMATRIX_SECRET: the secret is 9 characters long/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^CLAWMATRIX_MODELS: not valid JSON/));
    expect(lines).toContainEqual(expect.stringMatching(/^AGENT_REGISTRY_URL: "registry.local" is not a URL/));
    expect(r.stderr).not.toContain("too-short");
    await expect(fs.stat(path.join(home, ".openclaw"))).rejects.toThrow(/ENOENT/);
  });

  it("--dry-run prints the effective config with ${VAR} references and writes nothing", async () => {
    const home = await newHome();
    const r = await run(
      ["--dry-run"],
      baseEnv(home, { CLAWMATRIX_SECRET: SECRET, AGENTRUX_ACTIVATION_CODE: CODE }),
    );
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.gateway.auth.token).toBe("${OPENCLAW_GATEWAY_TOKEN}");
    expect(printed.plugins.entries.clawmatrix.config.secret).toBe("${CLAWMATRIX_SECRET}");
    expect(await fs.readdir(home)).toEqual([]);
  });

  it("execs the command in its own process, so SIGTERM reaches it directly", async () => {
    const home = await newHome();
    const marker = path.join(home, "got-sigterm");
    const script = `process.on("SIGTERM",()=>{require("fs").writeFileSync(${JSON.stringify(marker)},String(process.pid));process.exit(0)});console.log("pid="+process.pid);setInterval(()=>{},1000)`;
    const child = spawn(ENTRYPOINT, [findNode24(), "-e", script], {
      env: baseEnv(home),
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    const pid = await new Promise<number>((resolve) =>
      child.stdout.on("data", (d) => {
        const m = /pid=(\d+)/.exec(String(d));
        if (m) resolve(Number(m[1]));
      }),
    );
    expect(pid).toBe(child.pid);
    child.kill("SIGTERM");
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(await fs.readFile(marker, "utf8")).toBe(String(pid));
  });

  it("supervises the Pilot daemon: restarts it with backoff and stops it with the gateway", async () => {
    const home = await newHome();
    const bin = path.join(home, "pilot-bin");
    await fs.mkdir(bin);
    const calls = path.join(home, "pilot-calls");
    // A daemon stand-in that records its arguments, dies on its first start and runs after that.
    await fs.writeFile(
      path.join(bin, "pilot-daemon"),
      `#!/usr/bin/env bash\necho "$$ $*" >> ${calls}\n[ "$(wc -l < ${calls})" -gt 1 ] || exit 7\ntrap 'echo stopped >> ${calls}; exit 0' TERM\nwhile true; do sleep 0.2; done\n`,
      { mode: 0o755 },
    );
    const env = baseEnv(home, {
      AGENT_REGISTRY_URL: "http://127.0.0.1:9",
      PILOT_REGISTRY: "127.0.0.1:9000",
      PILOT_PORT: "4100",
      PILOT_PUBLIC_IP: "192.0.2.10",
      PILOT_BIN_DIR: bin,
    });
    // The "gateway" runs for 4 s: long enough for one crash and a restart after 1 s.
    const r = await run([findNode24(), "-e", "setTimeout(()=>{},4000)"], env);
    expect(r.code, r.stderr).toBe(0);
    await new Promise((res) => setTimeout(res, 1500)); // the supervisor polls once a second
    const lines = (await fs.readFile(calls, "utf8")).trim().split("\n");
    expect(lines.length).toBe(3);
    expect(lines[0]).toContain("-registry 127.0.0.1:9000 -beacon 127.0.0.1:9001 -listen :4100");
    expect(lines[0]).toContain(`-identity ${home}/.pilot/identity.json`);
    expect(lines[0]).toContain("-endpoint 192.0.2.10:4100");
    expect(lines[2]).toBe("stopped");
    expect(r.stderr).toMatch(/pilot-daemon exited \(7\); restarting in 1s/);
    expect(r.stderr).toMatch(/pilot-daemon stopped with the gateway/);
  });

  it("reads PILOT_REGISTRY's port as decimal, and refuses one whose beacon (port + 1) is no port", async () => {
    const home = await newHome();
    const bin = path.join(home, "pilot-bin");
    await fs.mkdir(bin);
    const calls = path.join(home, "pilot-calls");
    await fs.writeFile(
      path.join(bin, "pilot-daemon"),
      `#!/usr/bin/env bash\necho "$*" >> ${calls}\ntrap 'exit 0' TERM\nwhile true; do sleep 0.2; done\n`,
      { mode: 0o755 },
    );
    const env = baseEnv(home, { AGENT_REGISTRY_URL: "http://127.0.0.1:9", PILOT_BIN_DIR: bin });
    // `08` is an invalid octal number to bash; the daemon used not to start at all.
    const r = await run([findNode24(), "-e", "setTimeout(()=>{},1500)"], {
      ...env,
      PILOT_REGISTRY: "127.0.0.1:08",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await fs.readFile(calls, "utf8")).toMatch(/^-registry 127\.0\.0\.1:8 -beacon 127\.0\.0\.1:9 /);

    const bad = await run(["true"], { ...env, PILOT_REGISTRY: "127.0.0.1:65535" });
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n").filter((l) => l.startsWith("PILOT_REGISTRY:"))).toEqual([
      "PILOT_REGISTRY: port 65535 is out of range; expected host:port with a port 1-65534 (the beacon is port + 1)",
    ]);
  });

  it("keeps every id when the container is recreated with a new hostname and the same volume", async () => {
    const home = await newHome();
    const bin = path.join(home, "pilot-bin");
    await fs.mkdir(bin);
    const calls = path.join(home, "pilot-calls");
    await fs.writeFile(
      path.join(bin, "pilot-daemon"),
      `#!/usr/bin/env bash\necho "$*" >> ${calls}\ntrap 'exit 0' TERM\nwhile true; do sleep 0.2; done\n`,
      { mode: 0o755 },
    );
    const env = baseEnv(home, {
      CLAWMATRIX_SECRET: SECRET,
      AGENT_REGISTRY_URL: "http://127.0.0.1:9",
      PILOT_REGISTRY: "127.0.0.1:9000",
      PILOT_BIN_DIR: bin,
      AUTH_MANAGER_BASE_URL: "http://127.0.0.1:9",
      AUTH_MANAGER_INTERNAL_API_TOKEN: BROKER_TOKEN,
    });
    const gateway = [findNode24(), "-e", "setTimeout(()=>{},1500)"];
    const ids = async () => {
      const e = (await configOf(home)).plugins.entries;
      return [
        e.clawmatrix.config.nodeId,
        e["agent-registry"].config.hostname,
        e["agent-registry"].config.installationId,
        e["auth-manager-lease-telemetry"].config.machineId,
      ];
    };
    // Docker's default hostname (the container id's first 12 hex digits) changes on every recreate.
    const first = await run(gateway, { ...env, HOSTNAME: "0123456789ab" });
    expect(first.code, first.stderr).toBe(0);
    const [name] = await ids();
    expect(name).toMatch(/^openclaw-[0-9a-f]{8}$/);
    expect(await ids()).toEqual([name, name, name, name]);
    expect(first.stderr).toContain(`identity ${name} (${home}/.openclaw/bundle-identity.json, created now:`);
    expect(first.stderr).toContain(`mesh node id ${name} (from the identity)`);
    expect((await fs.stat(path.join(home, ".openclaw/bundle-identity.json"))).mode & 0o777).toBe(0o600);

    const second = await run(gateway, { ...env, HOSTNAME: "fedcba987654" });
    expect(second.code, second.stderr).toBe(0);
    expect(await ids()).toEqual([name, name, name, name]);
    expect(second.stderr).toMatch(/\/\.openclaw\/bundle-identity\.json, since \d{4}-/);
    const daemons = (await fs.readFile(calls, "utf8")).trim().split("\n");
    expect(daemons.length).toBeGreaterThanOrEqual(2);
    for (const line of daemons) expect(line).toContain(`-hostname ${name} `);

    // --dry-run names the source of each id too; a variable wins over the identity.
    const dry = await run(["--dry-run"], { ...env, HOSTNAME: "x", AUTH_MANAGER_MACHINE_ID: "m-1" });
    expect(dry.stderr).toContain("lease machine id m-1 (from AUTH_MANAGER_MACHINE_ID)");
    expect(dry.stderr).toContain(`registry hostname ${name} (from the identity)`);
  });

  it("refuses to start without HOME, in one line and before writing anything", async () => {
    const home = await newHome();
    const env = baseEnv(home, { AGENT_REGISTRY_URL: "http://127.0.0.1:9", PILOT_REGISTRY: "127.0.0.1:9000" });
    delete env.HOME;
    const r = await run(["true"], { ...env, OPENCLAW_STATE_DIR: path.join(home, "state") });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/unbound variable/);
    expect(r.stderr.split("\n")).toContain(
      "HOME: not set; expected the absolute home directory holding .openclaw, .pilot and .agentrux",
    );
    expect(await fs.readdir(home)).toEqual([]);
  });

  it("starts a compile cache over 256 MB over (each start adds to it), and leaves a smaller one", async () => {
    const home = await newHome();
    const tmp = path.join(home, "tmp");
    const cache = path.join(tmp, "node-compile-cache");
    await fs.mkdir(cache, { recursive: true });
    await fs.writeFile(path.join(cache, "small"), "x");
    const small = await run(["true"], baseEnv(home, { TMPDIR: tmp }));
    expect(small.code).toBe(0);
    expect(await fs.readdir(cache)).toEqual(["small"]);
    // Blocks really allocated, as `du` and a volume's size limit count them.
    execFileSync("fallocate", ["-l", "260M", path.join(cache, "big")]);
    const big = await run(["true"], baseEnv(home, { TMPDIR: tmp }));
    expect(big.code).toBe(0);
    expect(big.stderr).toMatch(/the compile cache in \S+ holds 26\d MB, over 256 MB; starting it over/);
    // No seed beside this entrypoint (the image has one): the next start fills a new cache.
    await expect(fs.stat(cache)).rejects.toThrow(/ENOENT/);
  });
});
