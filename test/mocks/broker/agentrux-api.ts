import express from "express";

// Placeholder until the AgenTrux issue lands its mock: no routes yet.
export type AgentruxApiOptions = Record<string, never>;

export interface AgentruxApi {
  router: express.Router;
  control: express.Router;
  /** Ends open SSE streams and timers so the server can close. */
  shutdown(): void;
}

export function createAgentruxApi(_opts: AgentruxApiOptions, _publicUrl: () => string): AgentruxApi {
  return { router: express.Router(), control: express.Router(), shutdown() {} };
}
