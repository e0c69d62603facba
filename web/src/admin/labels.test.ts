import { describe, expect, it } from "vitest";
import { jobFinished, marketLabel, minorUnits } from "./labels";

describe("labels", () => {
  it("names a market by type and line", () => {
    expect(marketLabel("1x2", {})).toBe("1x2");
    expect(marketLabel("total", { total: "2.5" })).toBe("total 2.5");
  });
  it("groups minor units", () => {
    expect(minorUnits(1234567)).toBe("1,234,567");
  });
  it("knows when a job is done", () => {
    expect(jobFinished("running")).toBe(false);
    expect(jobFinished("succeeded")).toBe(true);
    expect(jobFinished("failed")).toBe(true);
  });
});
