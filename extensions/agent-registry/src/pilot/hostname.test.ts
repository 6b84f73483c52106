import { describe, expect, it } from "vitest";
import { agentRegistryConfig } from "../config-schema.ts";
import { isPilotHostname, pilotHostname } from "./hostname.ts";

describe("Pilot hostnames", () => {
  it("takes what the real registry takes: lowercase, digits and -, at most 63", () => {
    for (const ok of ["alice-agent", "a", "node7", "x".repeat(63)])
      expect(isPilotHostname(ok), ok).toBe(true);
    for (const bad of ["Alice", "a.b", "-a", "a-", "a_b", "x".repeat(64), "", "localhost", "broadcast"])
      expect(isPilotHostname(bad), bad).toBe(false);
  });

  it("derives a name Pilot takes from a registry hostname it does not", () => {
    expect(pilotHostname("alice-agent")).toBe("alice-agent");
    expect(pilotHostname("Alice.Example.COM")).toBe("alice-example-com");
    expect(pilotHostname("my_host__1")).toBe("my-host-1");
    expect(pilotHostname(`${"a".repeat(62)}.b`)).toBe("a".repeat(62));
    expect(pilotHostname("localhost")).toMatch(/^agent-[0-9a-f]{12}$/);
    expect(pilotHostname("___")).toBe(pilotHostname("___")); // stable
    expect(isPilotHostname(pilotHostname("___"))).toBe(true);
  });

  it("refuses a pilot.hostname the daemon would drop, naming the value and what is expected", () => {
    const parse = (hostname: string) =>
      agentRegistryConfig.schema.safeParse({ pilot: { registry: "r:9000", hostname } });
    expect(parse("alice-agent").success).toBe(true);
    const r = parse("Alice.Agent");
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe(
      'pilot.hostname "Alice.Agent" is not a Pilot hostname: expected lowercase letters, digits and "-", 1-63 characters, starting and ending with a letter or digit, not localhost, backbone or broadcast',
    );
  });
});
