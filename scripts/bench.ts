import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// The home of every benchmark: each prints its figures as ratios against a baseline measured in
// the same run, because these machines are shared and noisy. Every `test/bench/<name>.ts` that
// exports `run()` is a benchmark; `npm run bench -- <name>` runs one, no argument runs them all.
const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../test/bench");
const known = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
  .map((f) => f.slice(0, -3))
  .sort();

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const name of wanted) {
  if (!known.includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${known.join(", ")}`);
    process.exit(2);
  }
}
for (const name of wanted.length ? wanted : known) {
  const mod = (await import(pathToFileURL(path.join(BENCH_DIR, `${name}.ts`)).href)) as {
    run?: () => Promise<unknown>;
  };
  if (typeof mod.run !== "function") continue; // helper modules shared by benchmarks
  console.log(`\n== bench ${name} ==`);
  await mod.run();
}
process.exit(0);
