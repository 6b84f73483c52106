import { defineConfig } from "vitest/config";

// Unit tests live beside the code; integration tests (real gateways) under test/.
// Integration files run one at a time: each gateway costs ~1 GB and a core while booting.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "packages/*/src/**/*.test.ts",
            "extensions/*/src/**/*.test.ts",
            "test/mocks/**/*.test.ts",
            "scripts/**/*.test.ts",
          ],
          testTimeout: 20_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 240_000,
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
          testTimeout: 240_000,
          hookTimeout: 900_000,
          sequence: { groupOrder: 2 },
          // No registry here: testcontainers' reaper image cannot be pulled; the tests clean up.
          env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
        },
      },
    ],
  },
});
