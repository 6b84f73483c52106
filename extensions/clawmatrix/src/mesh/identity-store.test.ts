import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { describe, expect, it } from "vitest";
import { NodeKey } from "../protocol/identity.ts";
import { MeshIdentity } from "./identity-store.ts";

// PROTOCOL §3b: the identity and the pins live in the state volume and survive a restart.

const lines: string[] = [];
const log = createLogger({
  extension: "test",
  sink: { debug() {}, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
});
const stateDir = () => mkdtempSync(path.join(tmpdir(), "clawmatrix-id-"));

describe("mesh identity store", () => {
  it("creates the key once (0600, atomic), then loads the same key after a restart", async () => {
    const dir = stateDir();
    const first = new MeshIdentity(dir, [], log);
    expect(first.problem).toBeUndefined();
    await first.save();
    for (const [name, crv, x] of [
      ["node-key.json", "Ed25519", first.key.publicKey],
      ["node-dh-key.json", "X25519", first.dhKey.publicKey],
    ] as const) {
      const file = path.join(dir, "clawmatrix", name);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ v: 1, crv, x });
    }
    const second = new MeshIdentity(dir, [], log);
    await second.save();
    expect(second.key.publicKey).toBe(first.key.publicKey);
    expect(second.dhKey.publicKey).toBe(first.dhKey.publicKey);
  });

  it("persists pins (0600) so a changed key is still refused after a restart", async () => {
    const dir = stateDir();
    const id = new MeshIdentity(dir, [], log);
    await id.save();
    const b = NodeKey.generate().publicKey;
    expect(id.pins.accept("node-b", b).ok).toBe(true);
    await id.flushed();
    const file = path.join(dir, "clawmatrix", "peer-keys.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const after = new MeshIdentity(dir, [], log);
    expect(after.pins.accept("node-b", NodeKey.generate().publicKey)).toMatchObject({ ok: false });
    expect(after.pins.accept("node-b", b)).toEqual({ ok: true, pinned: false });
  });

  it("refuses to start on an unreadable key or pin file, naming the file and never its content", async () => {
    for (const [name, content, why] of [
      [
        "node-key.json",
        "{not json PRIVATE-BYTES",
        /node-key\.json is not valid JSON; expected a ClawMatrix node key/,
      ],
      [
        "node-key.json",
        '{"v":1,"kty":"OKP","crv":"Ed25519","x":"short","d":"PRIVATE-BYTES"}',
        /node-key\.json: x expected an Ed25519/,
      ],
      [
        "node-dh-key.json",
        '{"v":1,"kty":"OKP","crv":"Ed25519","x":"short","d":"PRIVATE-BYTES"}',
        /node-dh-key\.json: crv .*expected a ClawMatrix pair key/,
      ],
      [
        "peer-keys.json",
        '{"v":1,"keys":{"node-b":"PRIVATE-BYTES"}}',
        /peer-keys\.json: keys\.node-b expected an Ed25519/,
      ],
    ] as const) {
      const dir = stateDir();
      const d = path.join(dir, "clawmatrix");
      await new MeshIdentity(dir, [], log).save();
      writeFileSync(path.join(d, name), content);
      const id = new MeshIdentity(dir, [], log);
      expect(id.problem).toMatch(why);
      expect(id.problem).not.toContain("PRIVATE-BYTES");
      await expect(id.save()).rejects.toThrow(why);
    }
  });
});
