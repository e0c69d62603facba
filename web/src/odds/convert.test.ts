import { describe, expect, it } from "vitest";
import { formatOdds } from "./convert";

describe("formatOdds", () => {
  it("keeps decimal as the API sends it", () => {
    expect(formatOdds("2.50", "decimal")).toBe("2.50");
  });

  it.each([
    ["2.50", "3/2"],
    ["2.20", "6/5"],
    ["3.30", "23/10"],
    ["1.90", "9/10"],
    ["2.00", "1/1"],
    ["1.01", "1/100"],
    ["11.00", "10/1"],
    ["1001", "1000/1"],
    ["1.333", "333/1000"],
  ])("fractional %s → %s", (decimal, expected) => {
    expect(formatOdds(decimal, "fractional")).toBe(expected);
  });

  it.each([
    ["2.50", "+150"],
    ["2.00", "+100"],
    ["2.20", "+120"],
    ["1.50", "-200"],
    ["1.90", "-111"], // 111.11 rounds down
    ["1.01", "-10000"],
    ["1.08", "-1250"],
    ["1.03", "-3333"], // 3333.33
    ["1.06", "-1667"], // 1666.67 rounds up
    ["1.16", "-625"],
    ["1.40", "-250"],
    ["1.80", "-125"],
    ["2.005", "+101"], // 100.5 half up
    ["1001", "+100000"],
  ])("american %s → %s", (decimal, expected) => {
    expect(formatOdds(decimal, "american")).toBe(expected);
  });

  it("shows what is not a price as it came", () => {
    expect(formatOdds("abc", "fractional")).toBe("abc");
    expect(formatOdds("1.00", "american")).toBe("1.00");
  });
});
