import { defineConfigSchema } from "@openclaw-bundle/shared";
import { z } from "zod";
import { MAX_FRAME_BYTES } from "./protocol/frames.ts";
import { publicKeyText } from "./protocol/identity.ts";
import { MAX_TOOL_OUTPUT_BYTES } from "./protocol/sizes.ts";
import { tlsFingerprint } from "./protocol/tls-cert.ts";

/** Defaults of the ClawMatrix 0.1.8 config this bundle stays compatible with. */
const DEFAULT_LISTEN_HOST = "0.0.0.0";
const DEFAULT_LISTEN_PORT = 19000;
const DEFAULT_PROXY_PORT = 19001;
const DEFAULT_HANDOFF_TIMEOUT_MS = 600_000;
const DEFAULT_TOOL_OUTPUT_BYTES = 1_048_576;
const MIN_SECRET_LENGTH = 16;

const id = z.string().min(1).max(128);
const port = z.number().int().min(1).max(65535);

const peer = z
  .object({
    /** The peer's node id, as it announces itself in the handshake. */
    nodeId: id,
    /** ws:// or wss:// URL the peer listens on. */
    url: z.string().regex(/^wss?:\/\/[^\s#]+$/, "expected a ws:// or wss:// URL (no #fragment)"),
    /** SHA-256 of a wss:// peer's certificate, pinned (PROTOCOL §2a): 64 lowercase hex digits. */
    fingerprint: tlsFingerprint.optional(),
  })
  .strict();

const absolutePath = z.string().regex(/^\/[^\0]{0,1023}$/, "expected an absolute file path");

const tls = z
  .object({
    /** PEM certificate and key the listener serves (`wss://`); both or neither. */
    certFile: absolutePath.optional(),
    keyFile: absolutePath.optional(),
    /** Without files: serve a self-signed certificate kept in the state volume. */
    selfSigned: z.boolean().default(false),
    /** PEM CA certificates that verify wss:// peers that have no pinned fingerprint. */
    caFile: absolutePath.optional(),
  })
  .strict()
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: "certFile and keyFile go together: set both or neither",
  });

const trustedKey = z
  .object({
    /** The node this key belongs to. */
    nodeId: id,
    /** Its Ed25519 public key (base64url, 43 characters), as its `clawmatrix.status` shows it. */
    key: publicKeyText,
  })
  .strict();

const agent = z
  .object({
    /** Agent id on this node, reachable from the mesh as a handoff target. */
    id,
    /** What the agent is good at, shown to other nodes. */
    description: z.string().max(2000).optional(),
    /** Tags other nodes route by (`tags:<tag>`). */
    tags: z.array(z.string().min(1).max(64)).max(64).default([]),
  })
  .strict();

const model = z
  .object({
    /** Model id served to the mesh. */
    id,
    /** The local provider that runs it (e.g. `openai`). */
    provider: z.string().min(1).max(128),
    description: z.string().max(2000).optional(),
  })
  .strict();

const proxyModel = z
  .object({
    /** Remote model id to use through the mesh. */
    id,
    /** Node expected to serve it; any node that announces it when omitted. */
    nodeId: id.optional(),
    description: z.string().max(2000).optional(),
  })
  .strict();

const toolProxy = z
  .object({
    /** Whether other nodes may run tools on this node. */
    enabled: z.boolean().default(false),
    /** Tools others may run; `[]` or `["*"]` allows all but `exec` and `process`, which must be named. */
    allow: z.array(z.string().min(1)).default([]),
    /** Tools others may never run; deny wins over allow. */
    deny: z.array(z.string().min(1)).default([]),
    /** Tool output above this many bytes (JSON-encoded, as sent) is truncated with a marker. */
    maxOutputBytes: z
      .number()
      .int()
      .min(1024)
      // An answer must fit one mesh frame (PROTOCOL §1): a bigger cap would only cut links.
      .max(
        MAX_TOOL_OUTPUT_BYTES,
        `must be at most ${MAX_TOOL_OUTPUT_BYTES} (the mesh frame limit of ${MAX_FRAME_BYTES} bytes less room for the frame)`,
      )
      .default(DEFAULT_TOOL_OUTPUT_BYTES),
  })
  .strict();

const a2a = z
  .object({
    /**
     * Serve the mesh's A2A endpoint (`/bundle/a2a/v1`, card at `/bundle/a2a/agent-card.json`) to
     * the peers of the host's A2A channel (`channels.a2a.peers`, their tokens).
     */
    enabled: z.boolean().default(false),
    /** Where a message that names no agent (`metadata.agent`) goes; naming one is required without it. */
    defaultAgent: z
      .string()
      .regex(/^(tags:)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "expected an agent id, tags:<tag> or a node id")
      .optional(),
    /** The origin the card advertises (behind a proxy); the request's own otherwise. */
    advertisedUrl: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, "expected an http:// or https:// URL")
      .optional(),
    /** Requests per peer per minute; 0 turns the limit off. */
    rateLimitPerMinute: z.number().int().min(0).max(100_000).default(30),
    /** Requests of one peer in flight at once (a stream counts until it ends). */
    maxConcurrentPerPeer: z.number().int().min(1).max(256).default(4),
    /** Tasks kept in the state volume for GetTask and ListTasks (oldest finished ones go first). */
    maxTasks: z.number().int().min(10).max(10_000).default(500),
  })
  .strict();

export const clawmatrixConfig = defineConfigSchema(
  z
    .object({
      /** This node's id in the mesh (the entrypoint defaults it to the hostname). */
      nodeId: id.optional(),
      /** Shared mesh secret (>= 16 chars); the mesh stays off without it. Never sent over the wire. */
      secret: z.string().min(MIN_SECRET_LENGTH).optional(),
      /** Accept connections from other nodes. */
      listen: z.boolean().default(false),
      listenHost: z.string().min(1).default(DEFAULT_LISTEN_HOST),
      listenPort: port.default(DEFAULT_LISTEN_PORT),
      /** Nodes to dial. */
      peers: z.array(peer).max(256).default([]),
      /** TLS of the listener and of wss:// dialing (PROTOCOL §2a); plain ws:// without it. */
      tls: tls.default({ selfSigned: false }),
      /**
       * Keys the listed nodes must present (several per node allowed, for a rotation); other nodes'
       * keys are pinned at first sight in the state volume (PROTOCOL §3b).
       */
      trustedKeys: z.array(trustedKey).max(1024).default([]),
      /** Local agents offered to the mesh. */
      agents: z.array(agent).max(256).default([]),
      /** Local models offered to the mesh. */
      models: z.array(model).max(256).default([]),
      /** Remote models this node uses through the mesh. */
      proxyModels: z.array(proxyModel).max(256).default([]),
      /** Tags of this node. */
      tags: z.array(z.string().min(1).max(64)).max(64).default([]),
      /** Port of the local OpenAI-compatible model proxy. */
      proxyPort: port.default(DEFAULT_PROXY_PORT),
      /** Idle timeout of a handoff; reset by every streamed chunk. */
      handoffTimeout: z.number().int().min(1000).max(86_400_000).default(DEFAULT_HANDOFF_TIMEOUT_MS),
      toolProxy: toolProxy.default({
        enabled: false,
        allow: [],
        deny: [],
        maxOutputBytes: DEFAULT_TOOL_OUTPUT_BYTES,
      }),
      a2a: a2a.default({ enabled: false, rateLimitPerMinute: 30, maxConcurrentPerPeer: 4, maxTasks: 500 }),
    })
    .strict()
    .superRefine((c, ctx) => {
      // A wss:// peer nobody can verify would be encrypted to whoever answers: refused up front.
      c.peers.forEach((p, i) => {
        if (p.url.startsWith("wss://") && !p.fingerprint && !c.tls.caFile)
          ctx.addIssue({
            code: "custom",
            path: ["peers", i, "fingerprint"],
            message: `${p.url} is wss:// with no pinned fingerprint and no tls.caFile; expected one of them`,
          });
      });
    }),
);

export type ClawmatrixConfig = z.infer<typeof clawmatrixConfig.schema>;
