import express, { type NextFunction, type Request, type Response } from "express";
import { type Credential, type Lease, LeaseBook, ROTATION_REASONS } from "./lease-state.ts";

export interface LeaseApiOptions {
  /** Bearer token the API demands (the Auth Manager's internal API token). */
  token?: string;
  /** Credentials seeded at start (default 1). */
  credentials?: number;
  defaultTtlSeconds?: number;
}

export interface LeaseApi {
  router: express.Router;
  control: express.Router;
  book: LeaseBook;
  /** Calls per route, e.g. `POST /api/leases/acquire`. */
  calls: Map<string, number>;
  shutdown(): void;
}

export const DEFAULT_LEASE_TOKEN = "broker-internal-token-0123456789";

const str = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 512;

/** The Auth Manager lease API of EXTERNAL-APIS.md section 4, with test-only control routes. */
export function createLeaseApi(opts: LeaseApiOptions, _publicUrl: () => string): LeaseApi {
  const token = opts.token ?? process.env.MOCK_BROKER_LEASE_TOKEN ?? DEFAULT_LEASE_TOKEN;
  const book = new LeaseBook({ defaultTtlSeconds: opts.defaultTtlSeconds });
  for (let i = 0; i < (opts.credentials ?? 1); i++) book.seedCredential();
  const calls = new Map<string, number>();
  const router = express.Router();
  router.use("/api/leases", express.json({ limit: "64kb" }));

  router.use("/api/leases", (req: Request, res: Response, next: NextFunction) => {
    const key = `${req.method} /api/leases${req.route?.path ?? req.path.replace(/\/lease-[^/]+/, "/{id}")}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    if (req.get("authorization") !== `Bearer ${token}`) {
      res.status(401).json({ detail: "missing or invalid bearer token" });
      return;
    }
    next();
  });

  /** Body check shared by the calls that identify the caller. */
  const who = (req: Request, res: Response): { machineId: string; agentId: string } | undefined => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (!str(b.machine_id) || !str(b.agent_id)) {
      res.status(400).json({ detail: "machine_id and agent_id are required strings" });
      return undefined;
    }
    return { machineId: b.machine_id, agentId: b.agent_id };
  };

  const owned = (req: Request, res: Response, id: string): Lease | undefined => {
    const lease = book.leases.get(id);
    if (!lease) {
      res.status(404).json({ detail: `lease ${id} not found` });
      return undefined;
    }
    const w = who(req, res);
    if (!w) return undefined;
    if (w.machineId !== lease.machineId || w.agentId !== lease.agentId) {
      res.status(403).json({ detail: `lease ${id} belongs to another machine or agent` });
      return undefined;
    }
    return lease;
  };

  router.post("/api/leases/acquire", (req, res) => {
    const w = who(req, res);
    if (!w) return;
    const ttl = (req.body as { requested_ttl_seconds?: unknown }).requested_ttl_seconds;
    const got = book.acquire(w.machineId, w.agentId, typeof ttl === "number" && ttl > 0 ? ttl : undefined);
    if (!got) {
      res.status(409).json({ status: "denied", reason: "no_eligible_credentials_available" });
      return;
    }
    res.json({
      status: "ok",
      reason: got.reused ? "existing_machine_lease_reused" : "new_lease_issued",
      lease: book.view(got.lease),
    });
  });

  router.post("/api/leases/rotate", (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (!ROTATION_REASONS.includes(b.reason as (typeof ROTATION_REASONS)[number])) {
      res.status(400).json({ detail: `reason must be one of ${ROTATION_REASONS.join(", ")}` });
      return;
    }
    if (!str(b.lease_id)) {
      res.status(400).json({ detail: "lease_id is required" });
      return;
    }
    const old = owned(req, res, b.lease_id);
    if (!old) return;
    const oldCred = book.credentials.get(old.credentialId);
    book.release(old);
    if (oldCred && oldCred.state === "available") oldCred.state = "cooldown";
    const got = book.acquire(old.machineId, old.agentId);
    if (!got) {
      res.status(409).json({ status: "denied", reason: "no_eligible_credentials_available" });
      return;
    }
    res.json({ status: "ok", reason: "rotated", lease: book.view(got.lease) });
  });

  router.get("/api/leases/:id", (req, res) => {
    const lease = book.leases.get(req.params.id);
    if (!lease) {
      res.status(404).json({ detail: `lease ${req.params.id} not found` });
      return;
    }
    res.json(book.view(lease));
  });

  router.post("/api/leases/:id/renew", (req, res) => {
    const lease = owned(req, res, req.params.id);
    if (!lease) return;
    if (!book.renew(lease)) {
      res.status(409).json({ status: "denied", reason: `lease_${lease.state}`, lease: book.view(lease) });
      return;
    }
    res.json({ status: "ok", lease: book.view(lease) });
  });

  router.post("/api/leases/:id/release", (req, res) => {
    const lease = owned(req, res, req.params.id);
    if (!lease) return;
    book.release(lease);
    res.json({ status: "ok", lease: book.view(lease) });
  });

  router.post("/api/leases/:id/materialize", (req, res) => {
    const lease = owned(req, res, req.params.id);
    if (!lease) return;
    book.tick();
    if (lease.state !== "active" && lease.state !== "rotation_required") {
      res.status(409).json({ status: "denied", reason: `lease_${lease.state}`, lease: book.view(lease) });
      return;
    }
    lease.authRefreshRequired = false;
    res.json({
      status: "ok",
      lease: book.view(lease),
      credential_material: { auth_json: book.authJson(lease) },
    });
  });

  router.post("/api/leases/:id/telemetry", (req, res) => {
    const lease = owned(req, res, req.params.id);
    if (!lease) return;
    const body = req.body as Record<string, unknown>;
    if (!str(body.captured_at) || !str(body.status)) {
      res.status(400).json({ detail: "captured_at and status are required" });
      return;
    }
    for (const k of ["requests_count", "tokens_in", "tokens_out", "utilization_pct", "quota_remaining"]) {
      if (
        body[k] !== undefined &&
        (typeof body[k] !== "number" || !Number.isFinite(body[k]) || (body[k] as number) < 0)
      ) {
        res.status(400).json({ detail: `${k} must be a non-negative number` });
        return;
      }
    }
    book.telemetry.push({ leaseId: lease.id, body, receivedAt: new Date().toISOString() });
    const cred = book.credentials.get(lease.credentialId);
    if (cred && typeof body.utilization_pct === "number") {
      cred.utilizationPct = body.utilization_pct;
      if (body.utilization_pct >= 100) book.exhaust(cred);
    }
    res.json({ status: "ok", lease: book.view(lease) });
  });

  const control = express.Router();
  control.use(express.json({ limit: "64kb" }));
  const lease = (req: Request, res: Response): Lease | undefined => {
    const l = book.leases.get(String(req.params.id));
    if (!l) res.status(404).json({ detail: `lease ${req.params.id} not found` });
    return l;
  };
  const cred = (req: Request, res: Response): Credential | undefined => {
    const c = book.credentials.get(String(req.params.id));
    if (!c) res.status(404).json({ detail: `credential ${req.params.id} not found` });
    return c;
  };
  control.get("/state", (_req, res) => {
    res.json({
      credentials: [...book.credentials.values()].map((c) => ({
        id: c.id,
        account_id: c.accountId,
        state: c.state,
      })),
      leases: [...book.leases.values()].map((l) => book.view(l)),
      // Which lease each telemetry report came for, in arrival order (a stop's last flush shows here).
      telemetry: book.telemetry.map((t) => ({ lease_id: t.leaseId })),
    });
  });
  control.post("/credentials", (req, res) => {
    const c = book.seedCredential(typeof req.body?.account_id === "string" ? req.body.account_id : undefined);
    res.json({ id: c.id, account_id: c.accountId, state: c.state });
  });
  control.post("/credentials/:id/exhaust", (req, res) => {
    const c = cred(req, res);
    if (!c) return;
    book.exhaust(c);
    res.json({ id: c.id, state: c.state });
  });
  control.post("/credentials/:id/refresh-auth", (req, res) => {
    const c = cred(req, res);
    if (!c) return;
    book.refreshAuth(c);
    res.json({ id: c.id, auth_updated_at: c.authUpdatedAt });
  });
  control.post("/leases/:id/revoke", (req, res) => {
    const l = lease(req, res);
    if (!l) return;
    book.revoke(l);
    res.json(book.view(l));
  });
  control.post("/leases/:id/expire", (req, res) => {
    const l = lease(req, res);
    if (!l) return;
    book.expire(l);
    res.json(book.view(l));
  });
  control.post("/leases/:id/flags", (req, res) => {
    const l = lease(req, res);
    if (!l) return;
    const b = req.body ?? {};
    if (typeof b.rotation_recommended === "boolean") l.rotationRecommended = b.rotation_recommended;
    if (typeof b.replacement_required === "boolean") l.replacementRequired = b.replacement_required;
    if (typeof b.auth_refresh_required === "boolean") l.authRefreshRequired = b.auth_refresh_required;
    res.json(book.view(l));
  });
  control.get("/telemetry", (_req, res) => {
    res.json({ telemetry: book.telemetry });
  });
  control.get("/calls", (_req, res) => {
    res.json(Object.fromEntries(calls));
  });

  return { router, control, book, calls, shutdown() {} };
}
