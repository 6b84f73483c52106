/** This gateway's own HTTP endpoint (loopback) and token, as plugins read them from the host config. */
interface LocalEndpoint {
  url: string;
  token: string | undefined;
}

/** Resolves a `${VAR}` reference from the env; other strings are returned as they are. */
export function derefEnv(v: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (typeof v !== "string") return undefined;
  const ref = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(v);
  return ref ? env[ref[1] as string] : v;
}

/** The gateway's port and token from the host config; a `${VAR}` token is read from the env. */
export function localGatewayFrom(config: unknown, env: NodeJS.ProcessEnv = process.env): LocalEndpoint {
  const gw = (config as { gateway?: { port?: unknown; auth?: { token?: unknown } } } | undefined)?.gateway;
  const port = typeof gw?.port === "number" ? gw.port : Number(env.OPENCLAW_GATEWAY_PORT ?? 18789);
  return {
    url: `http://127.0.0.1:${port}`,
    token: derefEnv(gw?.auth?.token, env) ?? env.OPENCLAW_GATEWAY_TOKEN,
  };
}
