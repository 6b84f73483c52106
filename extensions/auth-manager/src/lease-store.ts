import path from "node:path";
import { readJsonFile, writeJsonAtomic } from "@openclaw-bundle/shared";
import { z } from "zod";

/** What survives a restart so the same lease is reused: ids only, never token material. */
const persisted = z.object({
  leaseId: z.string().min(1),
  machineId: z.string().min(1),
  agentId: z.string().min(1),
  authUpdatedAt: z.string().optional(),
});
type PersistedLease = z.infer<typeof persisted>;

export class LeaseStore {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, "auth-manager", "lease.json");
  }

  /** The persisted lease, or undefined when none or unreadable (a broken file must not stop the gateway). */
  async load(): Promise<PersistedLease | undefined> {
    try {
      const r = persisted.safeParse(await readJsonFile(this.file));
      return r.success ? r.data : undefined;
    } catch {
      return undefined;
    }
  }

  async save(p: PersistedLease): Promise<void> {
    await writeJsonAtomic(this.file, p, { mode: 0o600 });
  }
}
