import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

/**
 * The AgenTrux broker's state (EXTERNAL-APIS.md section 1), apart from HTTP: scripts and their
 * secrets, single-use activation codes with a TTL, real HS256 JWT access tokens with expiry,
 * single-use rotating refresh tokens, grants per topic, per-topic sequence numbers, payloads.
 */

export const ACCESS_TTL_S = 3600;
export const REFRESH_TTL_S = 24 * 3600;
export const CODE_PATTERN = /^ac_[A-Za-z0-9_-]{20,200}$/;
/** The live service's codes (plugin 1.1.0), redeemed at /auth/redeem-activation-code. */
export const LIVE_CODE_PATTERN = /^act_[A-Za-z0-9_-]{20,200}$/;

export type Action = "read" | "write";
export interface Grant {
  grant_id: string;
  topic_id: string;
  action: Action;
}
export interface Script {
  id: string;
  secret: string;
  /** The live service's OAuth client id (`crd_`), used with the same secret at /oauth/token. */
  clientId: string;
  grants: Grant[];
}
export interface Event {
  event_id: string;
  sequence_no: number;
  type: string;
  payload: unknown;
  correlation_id?: string;
  reply_topic?: string;
  published_by: string;
  /** Live topics (`top_`) only: the metadata, the committed object and when it was stored. */
  metadata?: Record<string, unknown>;
  payload_object_id?: string;
  stored_at?: string;
}
export interface Payload {
  object_id: string;
  topic_id: string;
  content_type: string;
  filename: string;
  size: number;
  bytes?: Buffer;
  /** Live only: the sha256 the upload was registered with (base64 or hex), and the commit. */
  checksum?: string;
  committed?: boolean;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const id = (prefix: string) => `${prefix}${randomBytes(12).toString("base64url")}`;

export class AgentruxBook {
  readonly scripts = new Map<string, Script>();
  readonly codes = new Map<string, { scriptId: string; expiresAt: number; used: boolean }>();
  readonly refresh = new Map<string, { scriptId: string; expiresAt: number; used: boolean }>();
  readonly topics = new Map<string, Event[]>();
  /** Event ids that aged out of their topic's retention (live: a cursor on one is `ttl_expired`). */
  readonly evicted = new Set<string>();
  readonly payloads = new Map<string, Payload>();
  readonly #key = randomBytes(32);
  readonly #now: () => number;
  /** Access tokens issued before this second (JWT iat) are refused (test control: "expire tokens"). */
  notBefore = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  /** A script with read on the command topic and write on the result topic, and more. */
  createScript(grants: Array<{ topic_id: string; action: Action }>): Script {
    const s: Script = {
      id: id("scr_"),
      secret: id("cs_"),
      clientId: id("crd_"),
      grants: grants.map((g) => ({ grant_id: id("gr_"), ...g })),
    };
    this.scripts.set(s.id, s);
    for (const g of grants) if (!this.topics.has(g.topic_id)) this.topics.set(g.topic_id, []);
    return s;
  }

  /** A new single-use code for the script, or `code` itself (a preset one, as a topology's `.env` gives). */
  issueCode(
    scriptId: string,
    ttlHours: number,
    code = `ac_${randomBytes(24).toString("base64url")}`,
  ): string {
    if (!CODE_PATTERN.test(code) && !LIVE_CODE_PATTERN.test(code))
      throw new Error("activation code: expected ac_ or act_ followed by 20-200 of A-Z a-z 0-9 _ -");
    this.codes.set(code, { scriptId, expiresAt: this.now() + ttlHours * 3600_000, used: false });
    return code;
  }

  /** 200 with the script, or the 4xx reason. Single use. */
  activate(
    code: string,
    pattern: RegExp = CODE_PATTERN,
  ): Script | { status: number; code: string; message: string } {
    if (!pattern.test(code))
      return { status: 400, code: "invalid_code", message: "activation code is malformed" };
    const c = this.codes.get(code);
    if (!c) return { status: 404, code: "invalid_code", message: "activation code not found" };
    if (c.used) return { status: 409, code: "code_used", message: "activation code already used" };
    if (c.expiresAt <= this.now())
      return { status: 410, code: "code_expired", message: "activation code expired" };
    c.used = true;
    return this.scripts.get(c.scriptId) as Script;
  }

  /** The script of an OAuth client id with its secret (live generation), or undefined. */
  checkClient(clientId: string, secret: string): Script | undefined {
    const s = [...this.scripts.values()].find((x) => x.clientId === clientId);
    return s ? this.checkSecret(s.id, secret) : undefined;
  }

  checkSecret(scriptId: string, secret: string): Script | undefined {
    const s = this.scripts.get(scriptId);
    if (!s) return undefined;
    const a = Buffer.from(s.secret);
    const b = Buffer.from(secret);
    return a.length === b.length && timingSafeEqual(a, b) ? s : undefined;
  }

  issueTokens(scriptId: string): { access_token: string; refresh_token: string; expires_at: string } {
    const iat = Math.floor(this.now() / 1000);
    const header = b64({ alg: "HS256", typ: "JWT" });
    const body = b64({ sub: scriptId, iat, exp: iat + ACCESS_TTL_S, jti: id("") });
    const sig = createHmac("sha256", this.#key).update(`${header}.${body}`).digest("base64url");
    const refresh = id("rt_");
    this.refresh.set(refresh, { scriptId, expiresAt: this.now() + REFRESH_TTL_S * 1000, used: false });
    return {
      access_token: `${header}.${body}.${sig}`,
      refresh_token: refresh,
      expires_at: new Date((iat + ACCESS_TTL_S) * 1000).toISOString(),
    };
  }

  /** Rotates a refresh token: the old one is dead after this, whatever the outcome. */
  useRefresh(token: string): string | { status: number; message: string } {
    const r = this.refresh.get(token);
    if (!r) return { status: 401, message: "unknown refresh token" };
    if (r.used) return { status: 401, message: "refresh token already used" };
    r.used = true;
    if (r.expiresAt <= this.now()) return { status: 401, message: "refresh token expired" };
    return r.scriptId;
  }

  /** The script a bearer JWT names, when its signature and expiry check out. */
  verify(jwt: string): Script | undefined {
    const [h, b, sig] = jwt.split(".");
    if (!h || !b || !sig) return undefined;
    const want = createHmac("sha256", this.#key).update(`${h}.${b}`).digest("base64url");
    if (want.length !== sig.length || !timingSafeEqual(Buffer.from(want), Buffer.from(sig))) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(b, "base64url").toString("utf8")) as {
        sub: string;
        exp: number;
        iat: number;
      };
      const now = this.now() / 1000;
      if (claims.exp <= now || claims.iat < this.notBefore) return undefined;
      return this.scripts.get(claims.sub);
    } catch {
      return undefined;
    }
  }

  can(s: Script, topicId: string, action: Action): boolean {
    return s.grants.some((g) => g.topic_id === topicId && g.action === action);
  }

  publish(
    topicId: string,
    by: string,
    e: Omit<Event, "event_id" | "sequence_no" | "published_by" | "stored_at">,
  ): Event {
    const list = this.topics.get(topicId) ?? [];
    this.topics.set(topicId, list);
    const live = topicId.startsWith("top_");
    const ev: Event = {
      event_id: live ? `evt_${randomUUID()}` : id("ev_"),
      // Numbered past whatever aged out, so order survives eviction.
      sequence_no: (list.at(-1)?.sequence_no ?? this.#evictedSeq(topicId)) + 1,
      published_by: by,
      ...e,
      ...(live ? { stored_at: new Date(this.now()).toISOString() } : {}),
    };
    list.push(ev);
    return ev;
  }

  read(topicId: string, after: number, limit: number, type?: string): Event[] {
    return (this.topics.get(topicId) ?? [])
      .filter((e) => e.sequence_no > after && (!type || e.type === type))
      .slice(0, limit);
  }

  /** Test control: the oldest `count` events of a topic age out of its retention. */
  evict(topicId: string, count: number): number {
    const list = this.topics.get(topicId) ?? [];
    const gone = list.splice(0, Math.max(0, count));
    for (const e of gone) this.evicted.add(e.event_id);
    if (gone.length) this.#lastEvicted.set(topicId, gone.at(-1)?.sequence_no ?? 0);
    return gone.length;
  }

  readonly #lastEvicted = new Map<string, number>();
  #evictedSeq(topicId: string): number {
    return this.#lastEvicted.get(topicId) ?? 0;
  }

  newPayload(
    topicId: string,
    p: { content_type: string; filename: string; size: number; checksum?: string },
  ): Payload {
    const live = topicId.startsWith("top_");
    const obj: Payload = { object_id: live ? `pob_${randomUUID()}` : id("obj_"), topic_id: topicId, ...p };
    this.payloads.set(obj.object_id, obj);
    return obj;
  }
}
