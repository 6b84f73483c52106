import type { ChannelAccountSnapshot, ChannelGatewayContext } from "openclaw/plugin-sdk/channel-contract";
import type { ChannelPlugin } from "openclaw/plugin-sdk/channel-core";
import type {
  AnyAgentTool,
  OpenClawConfig,
  OpenClawPluginApi,
  OpenClawPluginService,
  OpenClawPluginToolContext,
} from "openclaw/plugin-sdk/plugin-entry";

/**
 * A stand-in for the host's `api`, for unit tests of an extension's `register()`: it records what
 * the plugin registers (gateway methods, tools, services, hooks, HTTP routes, CLI) and lets a test
 * use them as the gateway would. Only the members the bundle's plugins use exist; reading any
 * other throws and names it, so a plugin that starts using more of the api is noticed here
 * instead of passing against a fake that silently answers `undefined`.
 */

interface GatewayError {
  code: string;
  message: string;
}

/** What a gateway method answered through `respond`. */
interface GatewayAnswer {
  ok: boolean;
  payload?: unknown;
  error?: GatewayError;
}

type MethodHandler = (opts: {
  params: Record<string, unknown>;
  respond: (ok: boolean, payload?: unknown, error?: GatewayError) => void;
}) => unknown;
type ToolRegistration = Parameters<OpenClawPluginApi["registerTool"]>[0];
type Hook = (event: unknown, ctx: unknown) => unknown;

interface FakePluginApiOptions {
  /** `plugins.entries.<id>.config`. */
  pluginConfig?: Record<string, unknown>;
  /** The host config (`api.config`). */
  config?: OpenClawConfig;
}

export interface FakePluginApi {
  /** What the plugin's register function receives. */
  api: OpenClawPluginApi;
  /** Lines logged through `api.logger`, as `<level> <message>`. */
  logs: string[];
  /** Gateway method names, in registration order. */
  methods(): string[];
  /** Calls a registered gateway method; resolves once it responded. */
  call(method: string, params?: Record<string, unknown>): Promise<GatewayAnswer>;
  /** Every registered tool, factories run with `ctx`; with the names each was registered under. */
  tools(ctx?: OpenClawPluginToolContext): Array<{ tool: AnyAgentTool; names: string[] }>;
  services: OpenClawPluginService[];
  /** Starts every registered service, in order, as the gateway does at start. */
  startServices(stateDir: string): Promise<void>;
  /** Starts one registered service by id (its start's promise, to interleave with a stop). */
  startService(id: string, stateDir: string): Promise<void>;
  /** Stops every registered service, in reverse order. */
  stopServices(stateDir: string): Promise<void>;
  /** Handlers registered with `api.on(<hook>)`. */
  hooks(name: string): Hook[];
  /** Paths of registered HTTP routes. */
  routes: string[];
  /** How many CLI registrars were registered. */
  cliRegistrations: number;
}

export function fakePluginApi(opts: FakePluginApiOptions = {}): FakePluginApi {
  const logs: string[] = [];
  const methods = new Map<string, MethodHandler>();
  const toolRegs: Array<{ tool: ToolRegistration; names: string[] }> = [];
  const services: OpenClawPluginService[] = [];
  const hooks = new Map<string, Hook[]>();
  const routes: string[] = [];
  const config = opts.config ?? {};
  const logger = {
    debug: (m: string) => void logs.push(`debug ${m}`),
    info: (m: string) => void logs.push(`info ${m}`),
    warn: (m: string) => void logs.push(`warn ${m}`),
    error: (m: string) => void logs.push(`error ${m}`),
  };
  let cliRegistrations = 0;
  const members: Record<string, unknown> = {
    id: "test-plugin",
    pluginConfig: opts.pluginConfig,
    config,
    logger,
    registerGatewayMethod(name: string, handler: MethodHandler) {
      if (methods.has(name)) throw new Error(`gateway method ${name} registered twice`);
      methods.set(name, handler);
    },
    registerTool(tool: ToolRegistration, o?: { name?: string; names?: string[] }) {
      toolRegs.push({ tool, names: o?.names ?? (o?.name ? [o.name] : []) });
    },
    registerService(service: OpenClawPluginService) {
      services.push(service);
    },
    registerHttpRoute(route: { path: string }) {
      routes.push(route.path);
    },
    registerCli() {
      cliRegistrations++;
    },
    on(name: string, handler: Hook) {
      hooks.set(name, [...(hooks.get(name) ?? []), handler]);
    },
  };
  // The one unchecked step: the fake has only the members above, the SDK type has dozens more;
  // the proxy makes any other member fail loudly instead.
  const api = new Proxy(members, {
    get(target, key) {
      if (typeof key === "string" && !(key in target))
        throw new Error(`the plugin used api.${key}, which this fake does not provide`);
      return Reflect.get(target, key);
    },
  }) as unknown as OpenClawPluginApi;

  const serviceContext = (stateDir: string) => ({ config, stateDir, logger });
  return {
    api,
    logs,
    methods: () => [...methods.keys()],
    call(method, params = {}) {
      const handler = methods.get(method);
      if (!handler) return Promise.reject(new Error(`no gateway method ${method}`));
      return new Promise<GatewayAnswer>((resolve, reject) => {
        const respond = (ok: boolean, payload?: unknown, error?: GatewayError) =>
          resolve({ ok, ...(payload === undefined ? {} : { payload }), ...(error ? { error } : {}) });
        Promise.resolve(handler({ params, respond })).catch(reject);
      });
    },
    tools(ctx = {}) {
      return toolRegs.flatMap(({ tool, names }) => {
        const made =
          typeof tool === "function"
            ? tool(ctx)
            : "create" in tool
              ? tool.create({ ...ctx, assertInvocationCurrent() {} })
              : tool;
        const list = made === null || made === undefined ? [] : Array.isArray(made) ? made : [made];
        return list.map((t) => ({ tool: t, names }));
      });
    },
    services,
    async startServices(stateDir) {
      for (const s of services) await s.start(serviceContext(stateDir));
    },
    async startService(id, stateDir) {
      const s = services.find((x) => x.id === id);
      if (!s) throw new Error(`no service ${id} (registered: ${services.map((x) => x.id).join(", ")})`);
      await s.start(serviceContext(stateDir));
    },
    async stopServices(stateDir) {
      for (const s of [...services].reverse()) await s.stop?.(serviceContext(stateDir));
    },
    hooks: (name) => hooks.get(name) ?? [],
    routes,
    get cliRegistrations() {
      return cliRegistrations;
    },
  };
}

// --- the gateway's side of a channel plugin ---------------------------------------------------

/** A host config whose `plugins.entries.<id>.config` is `config`: where a channel account reads it. */
export function hostConfigWith(pluginId: string, config: Record<string, unknown>): OpenClawConfig {
  return { plugins: { entries: { [pluginId]: { config } } } };
}

/**
 * The context the gateway hands a channel's `startAccount`: quiet logs, the account status kept
 * in one place (`status()` reads what the account last set), aborted through `abortSignal`.
 */
export function accountContext<A>(
  accountId: string,
  account: A,
  abortSignal: AbortSignal,
): { ctx: ChannelGatewayContext<A>; status: () => ChannelAccountSnapshot } {
  let status: ChannelAccountSnapshot = { accountId };
  const ctx: ChannelGatewayContext<A> = {
    cfg: {},
    accountId,
    account,
    runtime: { log() {}, error() {}, exit() {} },
    abortSignal,
    log: { info() {}, warn() {}, error() {}, debug() {} },
    getStatus: () => status,
    setStatus: (next) => {
      status = next;
    },
  };
  return { ctx, status: () => status };
}

/** The gateway delivering `text` to `to` through the channel's outbound adapter. */
export function sendText<A>(plugin: ChannelPlugin<A>, to: string, text: string) {
  const send = plugin.outbound?.sendText;
  if (!send) throw new Error(`channel ${plugin.id} has no outbound sendText`);
  return send({ cfg: {}, to, text });
}
