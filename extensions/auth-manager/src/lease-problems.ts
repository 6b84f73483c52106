import { errorFactory, isBundleError } from "@openclaw-bundle/shared";
import type { Identity, LeaseView } from "./broker-client.ts";

const leaseError = errorFactory("LEASE_ERR");

export const FOREIGN_LEASE_CODE = "LEASE_ERR_FOREIGN_LEASE";
export const ROTATION_REFUSED_CODE = "LEASE_ERR_ROTATION_REFUSED";

/**
 * How long to wait before asking again after the broker handed back another agent's lease. Longer
 * than the broker's 180 s reclaim on purpose: each acquire marks that lease as seen, so asking
 * more often would keep an abandoned lease alive for ever and this gateway blocked with it.
 */
export const FOREIGN_LEASE_RETRY_MS = 10 * 60_000;

/** A refused rotation is asked again after 1 min, doubling to 15 min: the broker said no for a reason. */
export const ROTATE_RETRY_INITIAL_MS = 60_000;
export const ROTATE_RETRY_MAX_MS = 15 * 60_000;

/**
 * The Auth Manager keeps one lease per machine: an acquire from another agent id on the same
 * machine gets the holder's lease back, and every later call for it is refused with 409
 * `lease_not_found_or_not_owned`. Caught here, before any such call, with what to do about it.
 */
export function checkOwner(view: LeaseView, who: Identity, retryMs: number): void {
  const agent = view.agent_id ?? who.agentId;
  const machine = view.machine_id ?? who.machineId;
  if (agent === who.agentId && machine === who.machineId) return;
  throw leaseError(
    "FOREIGN_LEASE",
    `the broker handed back lease ${view.id}, held by agent "${agent}" on machine "${machine}", ` +
      `not by agent "${who.agentId}" on machine "${who.machineId}": the Auth Manager keeps one lease ` +
      `per machine and refuses this agent every call on it (409 lease_not_found_or_not_owned). ` +
      `Set agentId (AUTH_MANAGER_AGENT_ID) to "${agent}", give this gateway its own machineId ` +
      `(AUTH_MANAGER_MACHINE_ID), or release that lease at the broker; asking again in ${Math.round(retryMs / 1000)} s`,
    { details: { leaseId: view.id, agentId: agent, machineId: machine } },
  );
}

export function isForeignLease(err: unknown): boolean {
  return isBundleError(err, FOREIGN_LEASE_CODE);
}

/** Refusals after which the lease itself is gone or not ours: a new lease is needed, not a retry. */
export function leaseIsGone(reason: string | undefined): boolean {
  return (
    reason !== undefined &&
    (reason.startsWith("lease_not_found_or_not_owned") || reason.startsWith("lease_not_rotatable"))
  );
}

export function rotationRefusedReason(
  leaseId: string,
  why: string,
  refusal: string,
  retryMs: number,
): string {
  return (
    `${why} (lease ${leaseId}), but the broker refused the rotation (${refusal}); ` +
    `keeping the current credential until the broker replaces or ends the lease, ` +
    `asking again in ${Math.round(retryMs / 1000)} s`
  );
}
