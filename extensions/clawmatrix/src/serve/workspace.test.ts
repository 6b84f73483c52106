import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clawmatrixConfig } from "../config-schema.ts";
import { createHandlers } from "./handlers.ts";
import { confine, confineToolArgs, workspaceOf } from "./workspace.ts";

// PROTOCOL §7 `tool`: a peer's file tools reach only this gateway's workspace.

const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), "cm-ws-")));
const ws = path.join(base, "workspace");
const secretFile = path.join(base, "outside.txt");
mkdirSync(path.join(ws, "sub"), { recursive: true });
writeFileSync(path.join(ws, "sub", "a.txt"), "in");
writeFileSync(secretFile, "out");
symlinkSync(secretFile, path.join(ws, "escape-file"));
symlinkSync(base, path.join(ws, "escape-dir"));
symlinkSync(path.join(ws, "sub"), path.join(ws, "inner-link"));
// A workspace reached through a symlink resolves to its real path first.
symlinkSync(ws, path.join(base, "ws-link"));

afterAll(() => rmSync(base, { recursive: true, force: true }));

const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (err: { code?: string }) => err.code,
  );

describe("confine", () => {
  it("resolves relative and absolute paths inside the workspace to real absolute paths", async () => {
    expect(await confine(ws, "sub/a.txt")).toBe(path.join(ws, "sub", "a.txt"));
    expect(await confine(ws, path.join(ws, "sub", "a.txt"))).toBe(path.join(ws, "sub", "a.txt"));
    expect(await confine(ws, "sub/../sub/./a.txt")).toBe(path.join(ws, "sub", "a.txt"));
    expect(await confine(ws, "inner-link/a.txt")).toBe(path.join(ws, "sub", "a.txt"));
    expect(await confine(ws, ".")).toBe(ws);
    // Files and folders not made yet (a write) resolve through their existing ancestor.
    expect(await confine(ws, "new/dir/b.txt")).toBe(path.join(ws, "new", "dir", "b.txt"));
  });

  it("refuses .., absolute paths and symlinks that lead outside, with OUTSIDE_WORKSPACE", async () => {
    for (const p of [
      "../outside.txt",
      "sub/../../outside.txt",
      secretFile,
      "/etc/passwd",
      "escape-file",
      "escape-dir/outside.txt",
      "escape-dir/new-file",
      `${ws}-sibling/x`,
    ])
      expect(await code(confine(ws, p)), p).toBe("MESH_ERR_OUTSIDE_WORKSPACE");
    await expect(confine(ws, "escape-file")).rejects.toThrow(/resolves outside the workspace of this node/);
  });

  it("refuses what the gateway would rewrite (~, @, file:), control characters and empty paths", async () => {
    for (const p of ["~/.ssh/id_ed25519", "~", "@../x", "file:///etc/passwd", "a\nb", "a</path>", ""])
      expect(await code(confine(ws, p)), JSON.stringify(p)).toBe("MESH_ERR_OUTSIDE_WORKSPACE");
  });
});

describe("confineToolArgs", () => {
  it("rewrites every path argument of the file tools and leaves other tools alone", async () => {
    expect(await confineToolArgs(ws, "read", { path: "sub/a.txt" })).toEqual({
      path: path.join(ws, "sub", "a.txt"),
    });
    expect(await confineToolArgs(ws, "write", { file_path: "n.txt", content: "x" })).toEqual({
      file_path: path.join(ws, "n.txt"),
      content: "x",
    });
    expect(await confineToolArgs(ws, "ls", {})).toEqual({ path: ws });
    expect(await confineToolArgs(path.join(base, "ws-link"), "grep", { pattern: "x" })).toEqual({
      pattern: "x",
      path: ws,
    });
    expect(await confineToolArgs(ws, "exec", { command: "cat /etc/passwd" })).toEqual({
      command: "cat /etc/passwd",
    });
  });

  it("refuses a file tool whose path (either key) leaves the workspace, or has none", async () => {
    expect(await code(confineToolArgs(ws, "edit", { path: "sub/a.txt", file_path: "../outside.txt" }))).toBe(
      "MESH_ERR_OUTSIDE_WORKSPACE",
    );
    expect(await code(confineToolArgs(ws, "read", {}))).toBe("MESH_ERR_BAD_REQUEST");
    expect(await code(confineToolArgs(ws, "read", { path: 7 }))).toBe("MESH_ERR_BAD_REQUEST");
    expect(await code(confineToolArgs(ws, "find", { pattern: "../../*" }))).toBe(
      "MESH_ERR_OUTSIDE_WORKSPACE",
    );
    expect(await code(confineToolArgs(ws, "grep", { pattern: "x", glob: "/etc/*" }))).toBe(
      "MESH_ERR_OUTSIDE_WORKSPACE",
    );
    expect(await code(confineToolArgs(path.join(base, "missing"), "read", { path: "a" }))).toBe(
      "MESH_ERR_OUTSIDE_WORKSPACE",
    );
  });

  it("checks and rewrites each file of an apply_patch", async () => {
    const patch =
      "*** Begin Patch\n*** Update File: sub/a.txt\n@@\n-in\n+IN\n*** Add File: c.txt\n+new\n*** End Patch";
    const r = (await confineToolArgs(ws, "apply_patch", { input: patch })) as { input: string };
    expect(r.input).toContain(`*** Update File: ${path.join(ws, "sub", "a.txt")}\n`);
    expect(r.input).toContain(`*** Add File: ${path.join(ws, "c.txt")}\n`);
    const evil = "*** Begin Patch\n*** Update File: sub/a.txt\n*** Move to: ../stolen.txt\n*** End Patch";
    expect(await code(confineToolArgs(ws, "apply_patch", { input: evil }))).toBe(
      "MESH_ERR_OUTSIDE_WORKSPACE",
    );
    expect(await code(confineToolArgs(ws, "apply_patch", {}))).toBe("MESH_ERR_BAD_REQUEST");
  });
});

describe("workspaceOf", () => {
  const env = { HOME: "/home/u" };
  it("follows the gateway's order: the default agent, the defaults, then the environment", () => {
    expect(
      workspaceOf({ agents: { list: [{ id: "x" }, { id: "m", default: true, workspace: "~/w" }] } }, env),
    ).toBe("/home/u/w");
    expect(workspaceOf({ agents: { defaults: { workspace: "/srv/w" } } }, env)).toBe("/srv/w");
    expect(workspaceOf({}, { ...env, OPENCLAW_WORKSPACE_DIR: "/x/w" })).toBe("/x/w");
    expect(workspaceOf({}, { ...env, OPENCLAW_STATE_DIR: "/state" })).toBe("/state/workspace");
    expect(workspaceOf(undefined, env)).toBe("/home/u/.openclaw/workspace");
  });
});

describe("the tool handler", () => {
  const calls: unknown[] = [];
  const gateway = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      calls.push(JSON.parse(body));
      res.writeHead(200, { "content-type": "application/json" }).end('"ok"');
    });
  });
  beforeAll(() => new Promise<void>((r) => gateway.listen(0, "127.0.0.1", r)));
  afterAll(() => new Promise<void>((r) => gateway.close(() => r())));

  it("never asks the gateway for a file outside the workspace, and asks with the resolved path", async () => {
    const url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    const tool = createHandlers({
      nodeId: "node-b",
      config: clawmatrixConfig.schema.parse({ toolProxy: { enabled: true, maxOutputBytes: 4096 } }),
      gateway: () => ({ url, token: undefined }),
      provider: () => undefined,
      workspace: () => ws,
      log: createLogger({ extension: "t", sink: { debug() {}, info() {}, warn() {}, error() {} } }),
    }).tool;
    if (!tool) throw new Error("no tool handler");
    const ctx = { src: "node-c", signal: new AbortController().signal, chunk: () => {} };
    await expect(tool({ tool: "read", args: { path: "escape-file" } }, ctx)).rejects.toMatchObject({
      code: "MESH_ERR_OUTSIDE_WORKSPACE",
    });
    await expect(tool({ tool: " Read", args: { path: "../outside.txt" } }, ctx)).rejects.toMatchObject({
      code: "MESH_ERR_OUTSIDE_WORKSPACE",
    });
    expect(calls).toEqual([]);
    expect(await tool({ tool: "read", args: { path: "sub/a.txt" } }, ctx)).toEqual({
      output: "ok",
      truncated: false,
    });
    expect(calls).toEqual([{ tool: "read", args: { path: path.join(ws, "sub", "a.txt") } }]);
  });
});
