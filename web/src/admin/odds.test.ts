import { describe, expect, it } from "vitest";
import { parseOdds } from "./odds";

describe("parseOdds", () => {
  it.each([
    ["2.5", "2.50"],
    [" 1.01 ", "1.01"],
    ["1001", "1001.00"],
    ["3", "3.00"],
  ])("takes %s as %s", (text, odds) => {
    expect(parseOdds(text)).toBe(odds);
  });
  it.each(["1.00", "1001.01", "2.555", "abc", "", "-2", "1,5", "٣.٤٠"])("refuses %s", (text) => {
    expect(parseOdds(text)).toBeNull();
  });
});
