import express from "express";

// Placeholder until the lease issue lands its mock: no routes yet.
export type LeaseApiOptions = {};

export interface LeaseApi {
  router: express.Router;
  control: express.Router;
  /** Ends timers so the server can close. */
  shutdown(): void;
}

export function createLeaseApi(_opts: LeaseApiOptions, _publicUrl: () => string): LeaseApi {
  return { router: express.Router(), control: express.Router(), shutdown() {} };
}
