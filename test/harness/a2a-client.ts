import {
  type Client,
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from "@a2a-js/sdk/client";

/**
 * An outside A2A client made with the official SDK (@a2a-js/sdk), as a user would: it reads the
 * card at `cardPath` under `baseUrl` and sends every request, card included, with the peer's
 * bearer token.
 */
export function a2aClient(baseUrl: string, cardPath: string, token: string): Promise<Client> {
  const authFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  return new ClientFactory({
    ...ClientFactoryOptions.default,
    transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl: authFetch }),
  }).createFromUrl(baseUrl, cardPath);
}
