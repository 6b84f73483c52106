/** Shared bits of the mocks' standalone CLIs (compose services and the local topology). */

/** An integer option in [min, max], or exit 2 with a line naming the flag and what is expected. */
export function intOption(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${flag} must be an integer ${min}-${max} (got ${JSON.stringify(value)})\n`);
    process.exit(2);
  }
  return n;
}

/** Closes the server on SIGINT/SIGTERM, then exits 0 — a compose stop is a clean one. */
export function closeOnSignals(close: () => Promise<void>): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void close().then(() => process.exit(0));
    });
  }
}
