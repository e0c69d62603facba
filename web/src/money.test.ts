import { describe, expect, it } from "vitest";
import { formatMoney, parseMoney } from "./money";

describe("money", () => {
  it.each([
    ["10", "EUR", 1000],
    ["10.5", "EUR", 1050],
    ["10.50", "EUR", 1050],
    ["0.01", "EUR", 1],
    ["0,10", "EUR", 10],
    ["1234", "JPY", 1234],
    ["1.234", "KWD", 1234],
  ])("parses %s %s as %i minor units", (text, currency, minor) => {
    expect(parseMoney(text, currency)).toBe(minor);
  });

  it.each(["", "abc", "-1", "10.501", "1e3", "10.5.0", "1.5"])("refuses %s", (text) => {
    expect(parseMoney(text, text === "1.5" ? "JPY" : "EUR")).toBeNull();
  });

  it("formats minor units exactly", () => {
    expect(formatMoney(1050, "EUR", "en-GB")).toBe("€10.50");
    expect(formatMoney(-5, "GBP", "en-GB")).toBe("-£0.05");
    expect(formatMoney(123456789, "USD", "en-US")).toBe("$1,234,567.89");
    expect(formatMoney(1500, "JPY", "en-US")).toBe("¥1,500");
  });
});
