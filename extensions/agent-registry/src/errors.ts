import { errorFactory, isBundleError } from "@openclaw-bundle/shared";

/** Errors of the channel itself (`AGENT_REGISTRY_ERR_*`); the clients have their own prefixes. */
export const agentRegistryError = errorFactory("AGENT_REGISTRY_ERR");

export const isAgentRegistryError = (err: unknown, code: string) =>
  isBundleError(err, `AGENT_REGISTRY_ERR_${code}`);
