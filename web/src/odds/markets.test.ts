import { describe, expect, it } from "vitest";
import { marketName } from "./markets";

describe("marketName", () => {
  it("names markets with their line", () => {
    expect(marketName("1x2", {})).toBe("Match result");
    expect(marketName("total", { total: "2.5" })).toBe("Total goals 2.5");
    expect(marketName("asian_handicap", { hcp: "-0.25" })).toBe("Asian handicap -0.25");
    expect(marketName("first_goalscorer", {})).toBe("First goalscorer");
  });
});
