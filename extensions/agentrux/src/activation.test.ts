import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import {
  BOOTSTRAP,
  CREDENTIALS,
  lastRefusal,
  type Outcome,
  postActivate,
  readCredentials,
  runActivation,
} from "./activation.ts";
import { AgentruxClient } from "./client.ts";

// The activation ritual against the mock broker over real HTTP, on real files.

let broker: MockBroker;
let dir: string;
let scriptId: string;

beforeAll(async () => {
  let script: { id: string };
  ({ broker, script } = await startBrokerWithScript());
  scriptId = script.id;
});
afterAll(() => broker.close());
beforeEach(async () => {
  dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "agentrux-")), ".agentrux");
});

const activate = (code: string) => postActivate(broker.url, code);
const code = () => broker.agentrux.book.issueCode(scriptId, 1);
const drop = async (text: string) => {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(dir, BOOTSTRAP), text, { mode: 0o600 });
};
const ls = async () => (await fs.readdir(dir)).sort();
/** Runs `fn` while the mock answers activation with `mode` (see the mock's /activation-answer). */
async function withActivationAnswer(mode: string, fn: () => Promise<void>) {
  const set = (m: string) =>
    fetch(`${broker.url}/_control/agentrux/activation-answer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: m }),
    });
  await set(mode);
  try {
    await fn();
  } finally {
    await set("normal");
  }
}
const activations = () => broker.agentrux.calls.get("POST /auth/activate") ?? 0;

describe("activation ritual", () => {
  it("activates once: credentials.json 0600, BOOTSTRAP.md gone, the code nowhere in it", async () => {
    const c = code();
    await drop(`# AgenTrux\n${c}\n`);
    const r = await runActivation(dir, { activate });
    expect(r).toEqual({ state: "activated", scriptId });
    expect(await ls()).toEqual([CREDENTIALS]);
    const st = await fs.stat(path.join(dir, CREDENTIALS));
    expect(st.mode & 0o777).toBe(0o600);
    const creds = await fs.readFile(path.join(dir, CREDENTIALS), "utf8");
    expect(JSON.parse(creds)).toMatchObject({
      script_id: scriptId,
      grants: [{ topic_id: "cmd" }, { topic_id: "res" }],
    });
    expect(creds).not.toContain(c);
    expect(await runActivation(dir, { activate })).toEqual({ state: "credentials-present" });
  });

  it("lets exactly one of 10 concurrent claimers call /auth/activate", async () => {
    await drop(`${code()}\n`);
    const before = activations();
    const results = await Promise.all(Array.from({ length: 10 }, () => runActivation(dir, { activate })));
    expect(activations() - before).toBe(1);
    expect(results.filter((r) => r.state === "activated")).toHaveLength(1);
    // A loser sees the claim at whatever point the winner has reached: its link taken, the inflight
    // file present, BOOTSTRAP.md already removed, or the credentials written. None of them may fail,
    // quarantine or touch the code.
    const benign = new Set(["claimed-elsewhere", "inflight-present", "no-bootstrap", "credentials-present"]);
    expect(results.filter((r) => !benign.has(r.state) && r.state !== "activated")).toEqual([]);
    expect(await ls()).toEqual([CREDENTIALS]);
  });

  it("keeps a refused code aside with a sidecar naming the reason, and never retries it", async () => {
    const c = code();
    broker.agentrux.book.activate(c); // used elsewhere already
    await drop(`${c}\n`);
    const r = (await runActivation(dir, {
      activate,
      now: () => new Date("2026-11-22T10:20:30Z"),
    })) as Extract<Outcome, { state: "failed" }>;
    expect(r).toMatchObject({
      state: "failed",
      reason: "code_used",
      file: "BOOTSTRAP.md.failed-20261122-102030",
    });
    const sidecar = JSON.parse(await fs.readFile(path.join(dir, `${r.file}.json`), "utf8"));
    expect(sidecar).toEqual({
      reason: "code_used",
      http_status: 409,
      error_code: "code_used",
      error_message: "activation code already used",
      failed_at: "2026-11-22T10:20:30.000Z",
    });
    expect(JSON.stringify(sidecar)).not.toContain(c);
    expect(await runActivation(dir, { activate })).toEqual({ state: "no-bootstrap" });
    // A later start still finds why: the newest refusal and its reason.
    expect(await lastRefusal(dir)).toEqual({
      file: "BOOTSTRAP.md.failed-20261122-102030",
      reason: "code_used",
    });
  });

  it("hands the code back on a 5xx or no answer, for the next start", async () => {
    const c = code();
    await drop(`${c}\n`);
    await fetch(`${broker.url}/_control/agentrux/fail-next`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: 503, path: "/auth/activate" }),
    });
    expect(await runActivation(dir, { activate })).toEqual({
      state: "retry-later",
      detail: "broker answered 503",
    });
    expect(await ls()).toEqual([BOOTSTRAP]);
    const down = await runActivation(dir, { activate: (x) => postActivate("http://127.0.0.1:9", x) });
    expect(down.state).toBe("retry-later");
    expect(JSON.stringify(down)).not.toContain(c);
    expect((await runActivation(dir, { activate })).state).toBe("activated");
  });

  it("quarantines a BOOTSTRAP.md next to live credentials and leaves an orphaned .inflight alone", async () => {
    await drop(`${code()}\n`);
    await fs.writeFile(path.join(dir, CREDENTIALS), "{}", { mode: 0o600 });
    const before = activations();
    const q = await runActivation(dir, { activate, now: () => new Date("2026-11-22T00:00:00Z") });
    expect(q).toEqual({ state: "quarantined", file: "BOOTSTRAP.md.quarantined-20261122-000000" });
    expect(
      JSON.parse(await fs.readFile(path.join(dir, `${(q as { file: string }).file}.json`), "utf8")).reason,
    ).toBe("creds-already-present");
    expect(activations()).toBe(before);

    await fs.rm(dir, { recursive: true });
    await drop(`${code()}\n`);
    await fs.writeFile(path.join(dir, `${BOOTSTRAP}.inflight`), "ac_orphan");
    expect((await runActivation(dir, { activate })).state).toBe("inflight-present");
    expect(await ls()).toEqual([BOOTSTRAP, `${BOOTSTRAP}.inflight`]);
    expect(activations()).toBe(before);
  });

  it("fails a file without a well-formed code without calling the broker", async () => {
    await drop("hello\nac_short\n");
    const before = activations();
    expect(await runActivation(dir, { activate })).toMatchObject({
      state: "failed",
      reason: "invalid-format",
    });
    expect(activations()).toBe(before);
  });

  it("takes a 200 without grants as success: credentials saved, the code never sent again", async () => {
    await withActivationAnswer("no-grants", async () => {
      await drop(`${code()}\n`);
      const before = activations();
      expect(await runActivation(dir, { activate })).toEqual({ state: "activated", scriptId });
      expect(await ls()).toEqual([CREDENTIALS]);
      expect(await runActivation(dir, { activate })).toEqual({ state: "credentials-present" });
      expect(activations() - before).toBe(1);
    });
  });

  it("sets a code aside after a 200 with an unexpected body (spent), never sending it again", async () => {
    await withActivationAnswer("unexpected", async () => {
      const c = code();
      await drop(`${c}\n`);
      const before = activations();
      const r = (await runActivation(dir, { activate })) as Extract<Outcome, { state: "failed" }>;
      expect(r).toMatchObject({ state: "failed", reason: "unexpected-answer" });
      const sidecar = JSON.parse(await fs.readFile(path.join(dir, `${r.file}.json`), "utf8"));
      expect(sidecar).toMatchObject({ http_status: 200, error_code: "unexpected-answer" });
      expect(JSON.stringify(sidecar)).not.toContain(c);
      expect(await runActivation(dir, { activate })).toEqual({ state: "no-bootstrap" });
      expect(activations() - before).toBe(1);
    });
  });

  it("sets an act_ code aside after a 200 from the live redeem route with an unexpected body", async () => {
    await withActivationAnswer("unexpected", async () => {
      const c = broker.agentrux.book.issueCode(scriptId, 1, `act_${"x".repeat(24)}unexpected`);
      await drop(`${c}\n`);
      const redeems = () => broker.agentrux.calls.get("POST /auth/redeem-activation-code") ?? 0;
      const before = redeems();
      const r = (await runActivation(dir, { activate })) as Extract<Outcome, { state: "failed" }>;
      expect(r).toMatchObject({ state: "failed", reason: "unexpected-answer" });
      const sidecar = JSON.parse(await fs.readFile(path.join(dir, `${r.file}.json`), "utf8"));
      expect(sidecar).toMatchObject({ http_status: 200, error_code: "unexpected-answer" });
      expect(sidecar.error_message).toMatch(/without client_id and client_secret/);
      expect(JSON.stringify(sidecar)).not.toContain(c);
      expect(await runActivation(dir, { activate })).toEqual({ state: "no-bootstrap" });
      expect(redeems() - before).toBe(1);
    });
  });

  it("writes base_url and the official plugin's clientSecret beside client_secret", async () => {
    await drop(`${code()}\n`);
    expect((await runActivation(dir, { activate, baseUrl: `${broker.url}/` })).state).toBe("activated");
    const file = JSON.parse(await fs.readFile(path.join(dir, CREDENTIALS), "utf8"));
    expect(file).toMatchObject({ base_url: broker.url, script_id: scriptId });
    expect(file.clientSecret).toBe(file.client_secret);
    expect(await readCredentials(dir)).toEqual({
      script_id: scriptId,
      client_secret: file.client_secret,
      base_url: broker.url,
    });
  });

  it("reads a credentials.json the official plugin wrote (clientSecret) and authenticates with it", async () => {
    const secret = broker.agentrux.book.scripts.get(scriptId)?.secret as string;
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, CREDENTIALS),
      JSON.stringify({ base_url: broker.url, script_id: scriptId, clientSecret: secret }),
    );
    const creds = await readCredentials(dir);
    expect(creds).toEqual({ script_id: scriptId, client_secret: secret, base_url: broker.url });
    const client = new AgentruxClient({
      baseUrl: broker.url,
      scriptId: creds?.script_id as string,
      clientSecret: creds?.client_secret as string,
    });
    expect(await client.token()).toMatch(/\./);
  });

  it("names what a credentials.json lacks, never its values, and reads none when absent", async () => {
    await fs.mkdir(dir, { recursive: true });
    expect(await readCredentials(dir)).toBeUndefined();
    await fs.writeFile(path.join(dir, CREDENTIALS), JSON.stringify({ script_id: "scr_secretive_value" }));
    const err = await readCredentials(dir).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/neither client_secret nor clientSecret is set/);
    expect((err as Error).message).not.toContain("scr_secretive_value");
  });

  it("redeems an act_ code at /auth/redeem-activation-code and stores the OAuth client", async () => {
    const res = await fetch(`${broker.url}/_control/agentrux/activation-codes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ script_id: scriptId, live: true }),
    });
    const { activation_code: c } = (await res.json()) as { activation_code: string };
    expect(c).toMatch(/^act_/);
    await drop(`${c}\n`);
    const before = broker.agentrux.calls.get("POST /auth/redeem-activation-code") ?? 0;
    expect(await runActivation(dir, { activate, baseUrl: broker.url })).toEqual({
      state: "activated",
      scriptId,
    });
    expect(broker.agentrux.calls.get("POST /auth/redeem-activation-code")).toBe(before + 1);
    const text = await fs.readFile(path.join(dir, CREDENTIALS), "utf8");
    expect(text).not.toContain(c);
    const creds = await readCredentials(dir);
    expect(creds).toMatchObject({
      script_id: scriptId,
      client_id: expect.stringMatching(/^crd_/),
      base_url: broker.url,
    });
    const client = new AgentruxClient({
      baseUrl: broker.url,
      generation: "live",
      clientId: creds?.client_id,
      clientSecret: creds?.client_secret as string,
    });
    expect(await client.token()).toMatch(/\./);
    // The same code again: spent.
    await drop(`${c}\n`);
    await fs.rm(path.join(dir, CREDENTIALS));
    expect(await runActivation(dir, { activate })).toMatchObject({ state: "failed", reason: "code_used" });
  });
});
