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
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
