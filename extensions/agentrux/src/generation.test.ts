import { describe, expect, it } from "vitest";
import { detectGeneration } from "./generation.ts";

const ACT = `act_${"a".repeat(43)}`;
const AC = `ac_${"b".repeat(32)}`;

describe("detectGeneration", () => {
  it("follows the configured generation over every clue", () => {
    expect(detectGeneration({ setting: "seed", code: ACT, topicIds: ["top_1"] })).toEqual({
      generation: "seed",
      because: "configured",
    });
    expect(detectGeneration({ setting: "live", credentials: { script_id: "scr_1" } }).generation).toBe(
      "live",
    );
  });

  it("reads the credentials first, then the code, then the topic ids", () => {
    expect(detectGeneration({ credentials: { client_id: "crd_1", script_id: "scr_1" }, code: AC })).toEqual({
      generation: "live",
      because: "credentials hold a client_id",
    });
    expect(detectGeneration({ credentials: { script_id: "scr_1" }, topicIds: ["top_x"] }).generation).toBe(
      "seed",
    );
    expect(detectGeneration({ code: ACT, topicIds: ["9f0c"] }).generation).toBe("live");
    expect(detectGeneration({ code: AC, topicIds: ["top_x"] }).generation).toBe("seed");
    expect(detectGeneration({ topicIds: [undefined, "top_x"] })).toEqual({
      generation: "live",
      because: "topic ids are top_",
    });
    expect(detectGeneration({ setting: "auto", code: "act_short" })).toEqual({
      generation: "seed",
      because: "nothing says otherwise",
    });
  });
});
