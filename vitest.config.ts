import { defineConfig } from "vitest/config";

// Unit tests live beside the code; integration tests (real gateways) under test/.
// Integration files run one at a time: each gateway costs ~1 GB and a core while booting.
export default defineConfig({
  test: {
    // Read only with `--coverage`, which scripts/coverage.ts passes together with `--project unit`:
    // Vitest takes coverage options at the root only, not per project. Every source file counts,
    // also those no unit test loads (they show as 0%).
    coverage: {
      provider: "v8",
      include: ["extensions/*/src/**", "packages/*/src/**"],
      exclude: ["**/*.test.ts"],
      reporter: ["text-summary", "json-summary"],
      reportsDirectory: "coverage",
      // A failing test still shows the figures; the run's exit code says it failed.
      reportOnFailure: true,
    },
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "packages/*/src/**/*.test.ts",
            "extensions/*/src/**/*.test.ts",
            "test/mocks/**/*.test.ts",
            "scripts/**/*.test.ts",
            "test/bench/**/*.test.ts",
          ],
          // Some unit tests drive real child processes (the Pilot stand-in): room for a busy machine.
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          // Backstops only: the harness's waits (test/harness/wait.ts) scale with the machine's
          // load and fail first, saying what they waited for and what they saw last.
          testTimeout: 600_000,
          hookTimeout: 900_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          // Container tests: the compose mesh from the real images; skipped, with the reason
          // printed, where there is no Docker engine or no base image.
          name: "container",
          include: ["test/container/**/*.test.ts"],
          fileParallelism: false,
          // Backstops, as for the integration tests: the waits inside scale with the load.
          testTimeout: 1_800_000,
          hookTimeout: 900_000,
          sequence: { groupOrder: 2 },
          // No registry here: testcontainers' reaper image cannot be pulled; the tests clean up.
          env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
        },
      },
    ],
  },
});
