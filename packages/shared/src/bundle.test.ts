import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BUNDLE_EXTENSIONS } from "./bundle.ts";

const EXTENSIONS_DIR = path.resolve(import.meta.dirname, "../../../extensions");

describe("BUNDLE_EXTENSIONS", () => {
  // A folder missing from the list is shipped but never loaded or enabled; an id that differs from
  // the plugin's own makes the config step enable, and the healthcheck probe, a plugin that is not there.
  it("names every extension folder the image ships, with the plugin id its manifest declares", () => {
    const shipped = readdirSync(EXTENSIONS_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => {
        const manifest = JSON.parse(
          readFileSync(path.join(EXTENSIONS_DIR, d.name, "openclaw.plugin.json"), "utf8"),
        ) as { id: string };
        return { id: manifest.id, folder: d.name };
      });
    expect([...BUNDLE_EXTENSIONS].sort((a, b) => a.folder.localeCompare(b.folder))).toEqual(shipped);
  });
});
