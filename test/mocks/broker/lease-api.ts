import express, { type NextFunction, type Request, type Response } from "express";
import { type Credential, type Lease, LeaseBook, ROTATION_REASONS } from "./lease-state.ts";
import { credentialMaterial, credentialRow, leaseRow, leaseStatus } from "./lease-views.ts";

export interface LeaseApiOptions {
  /** Bearer token the API demands (the Auth Manager's internal API token). */
  token?: string;
  /** Credentials seeded at start (default 1). */
  credentials?: number;
  defaultTtlSeconds?: number;
  /** Seconds unseen after which a lease is reclaimed (the real server's 180 s). */
  reclaimAfterSeconds?: number;
  /** The broker's clock, for tests of expiry and reclaim. */
  now?: () => number;
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

/** The real server's words (FastAPI `detail`), so clients see what they would see in production. */
const NO_KEY = "API key required. Provide Authorization: Bearer <token> or X-API-Key header.";
const NOT_OWNED = "lease_not_found_or_not_owned";

const text = (v: unknown): string => (typeof v === "string" || typeof v === "number" ? String(v).trim() : "");

/** The Auth Manager lease API as the real server answers it, with test-only control routes. */
export function createLeaseApi(opts: LeaseApiOptions, _publicUrl: () => string): LeaseApi {
  const token = opts.token ?? process.env.MOCK_BROKER_LEASE_TOKEN ?? DEFAULT_LEASE_TOKEN;
  const book = new LeaseBook({
    defaultTtlSeconds: opts.defaultTtlSeconds,
    reclaimAfterSeconds: opts.reclaimAfterSeconds,
    now: opts.now,
  });
  for (let i = 0; i < (opts.credentials ?? 1); i++) book.seedCredential();
  const calls = new Map<string, number>();
  const router = express.Router();
  router.use("/api/leases", express.json({ limit: "64kb" }));

  router.use("/api/leases", (req: Request, res: Response, next: NextFunction) => {
    const key = `${req.method} /api/leases${req.path.replace(/^\/(?!acquire$|rotate$)[^/]+/, "/{id}")}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    const auth = req.get("authorization");
    const given = auth?.startsWith("Bearer ") ? auth.slice(7) : req.get("x-api-key");
    if (!given) {
      res.status(401).json({ detail: NO_KEY });
      return;
    }
    if (given !== token) {
      res.status(403).json({ detail: "Invalid API key" });
      return;
    }
    next();
  });

  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const deny = (res: Response, reason: string, lease: Lease | null) => {
    res.status(409).json({ status: "denied", reason, lease: lease ? leaseRow(book, lease) : null });
  };
  /** The caller's ids, or a 400 with the real server's words. */
  const who = (req: Request, res: Response, extra: string[] = []) => {
    const b = body(req);
    const machineId = text(b.machine_id);
    const agentId = text(b.agent_id);
    if (!machineId || !agentId || extra.some((k) => !text(b[k]))) {
      const names = ["machine_id", "agent_id", ...extra];
      const list =
        names.length > 2 ? `${names.slice(0, -1).join(", ")}, and ${names.at(-1)}` : names.join(" and ");
      res.status(400).json({ detail: `${list} are required` });
      return undefined;
    }
    return { machineId, agentId };
  };
  /** The lease when it exists and is this caller's; else the real server's 409 with no lease. */
  const owned = (res: Response, id: string, w: { machineId: string; agentId: string }) => {
    const lease = book.leases.get(id);
    if (!lease || lease.machineId !== w.machineId || lease.agentId !== w.agentId) {
      deny(res, NOT_OWNED, null);
      return undefined;
    }
    return lease;
  };

  /** The real server's `ok` answer to release and telemetry: the lease row and its credential. */
  const okWithCredential = (res: Response, lease: Lease) => {
    const cred = book.credentials.get(lease.credentialId);
    res.json({
      status: "ok",
      reason: null,
      lease: leaseRow(book, lease),
      credential: cred && credentialRow(cred),
    });
  };

  router.post("/api/leases/acquire", (req, res) => {
    const w = who(req, res);
    if (!w) return;
    const b = body(req);
    const ttl = typeof b.requested_ttl_seconds === "number" ? b.requested_ttl_seconds : undefined;
    const got = book.acquire(w.machineId, w.agentId, ttl, typeof b.reason === "string" ? b.reason : null);
    if (!got) return deny(res, "no_eligible_credentials_available", null);
    res.json({
      status: "ok",
      reason: got.reused ? "existing_machine_lease_reused" : null,
      lease: leaseRow(book, got.lease),
    });
  });

  router.post("/api/leases/rotate", (req, res) => {
    const b = body(req);
    if (!text(b.lease_id) || !text(b.machine_id) || !text(b.agent_id) || !text(b.reason)) {
      res.status(400).json({ detail: "lease_id, machine_id, agent_id, and reason are required" });
      return;
    }
    if (!ROTATION_REASONS.includes(text(b.reason) as (typeof ROTATION_REASONS)[number])) {
      res.status(400).json({ detail: "invalid rotation reason" });
      return;
    }
    const old = owned(res, text(b.lease_id), { machineId: text(b.machine_id), agentId: text(b.agent_id) });
    if (!old) return;
    const r = book.rotate(old, text(b.reason));
    if ("refused" in r) return deny(res, r.refused, r.lease);
    res.json({ status: "ok", reason: null, lease: leaseRow(book, r) });
  });

  router.get("/api/leases/:id", (req, res) => {
    const lease = book.leases.get(req.params.id);
    if (!lease) {
      res.status(404).json({ detail: "Lease not found" });
      return;
    }
    book.tick();
    book.touch(lease);
    res.json(leaseStatus(book, lease));
  });

  router.post("/api/leases/:id/renew", (req, res) => {
    const w = who(req, res);
    const lease = w && owned(res, req.params.id, w);
    if (!lease) return;
    const refused = book.renew(lease);
    if (refused) return deny(res, refused.refused, refused.lease);
    res.json({ status: "ok", reason: null, lease: leaseRow(book, lease) });
  });

  router.post("/api/leases/:id/release", (req, res) => {
    const w = who(req, res);
    const lease = w && owned(res, req.params.id, w);
    if (!lease) return;
    const reason = body(req).reason;
    const refused = book.release(lease, typeof reason === "string" ? reason : undefined);
    if (refused) return deny(res, refused.refused, refused.lease);
    okWithCredential(res, lease);
  });

  router.post("/api/leases/:id/materialize", (req, res) => {
    const w = who(req, res);
    const lease = w && owned(res, req.params.id, w);
    if (!lease) return;
    const refused = book.materialize(lease);
    if (refused) return deny(res, refused.refused, refused.lease);
    const cred = book.credentials.get(lease.credentialId) as Credential;
    res.json({
      status: "ok",
      reason: null,
      lease: leaseRow(book, lease),
      credential_material: credentialMaterial(cred),
    });
  });

  router.post("/api/leases/:id/telemetry", (req, res) => {
    const w = who(req, res, ["captured_at"]);
    const lease = w && owned(res, req.params.id, w);
    if (!lease) return;
    const b = body(req);
    if (Number.isNaN(Date.parse(text(b.captured_at)))) {
      res.status(400).json({ detail: "captured_at must be an ISO timestamp" });
      return;
    }
    book.report(lease, b);
    okWithCredential(res, lease);
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
      leases: [...book.leases.values()].map((l) => ({ id: l.id, ...leaseStatus(book, l) })),
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
    res.json(leaseStatus(book, l));
  });
  control.post("/leases/:id/expire", (req, res) => {
    const l = lease(req, res);
    if (!l) return;
    book.expire(l);
    res.json(leaseStatus(book, l));
  });
  control.post("/leases/:id/flags", (req, res) => {
    const l = lease(req, res);
    if (!l) return;
    const b = req.body ?? {};
    if (typeof b.rotation_recommended === "boolean") l.rotationRecommended = b.rotation_recommended;
    if (typeof b.replacement_required === "boolean") l.replacementRequired = b.replacement_required;
    if (typeof b.auth_refresh_required === "boolean") l.authRefreshRequired = b.auth_refresh_required;
    res.json(leaseStatus(book, l));
  });
  /** How long a lease may go unseen before it is reclaimed (the real server's 180 s). */
  control.post("/settings", (req, res) => {
    const s = req.body?.reclaim_after_seconds;
    if (s !== undefined && (typeof s !== "number" || !(s > 0))) {
      res.status(400).json({ detail: "reclaim_after_seconds must be a positive number" });
      return;
    }
    if (s !== undefined) book.reclaimAfterSeconds = s;
    res.json({ reclaim_after_seconds: book.reclaimAfterSeconds });
  });
  control.get("/telemetry", (_req, res) => {
    res.json({ telemetry: book.telemetry });
  });
  control.get("/calls", (_req, res) => {
    res.json(Object.fromEntries(calls));
  });

  return { router, control, book, calls, shutdown() {} };
}
