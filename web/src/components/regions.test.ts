import { describe, expect, it } from "vitest";
import { ageOn, COUNTRIES, CURRENCIES, currencyFor } from "./regions";

describe("regions", () => {
  it("suggests the local currency, else the euro", () => {
    expect(currencyFor("GB")).toBe("GBP");
    expect(currencyFor("SE")).toBe("SEK");
    expect(currencyFor("DE")).toBe("EUR");
  });
  it("only suggests currencies it offers", () => {
    const offered = new Set(CURRENCIES.map((c) => c.code));
    for (const c of COUNTRIES) expect(offered.has(currencyFor(c.code))).toBe(true);
  });
  it("counts age in whole years, birthday included", () => {
    const today = new Date(2026, 11, 5);
    expect(ageOn("2008-12-05", today)).toBe(18);
    expect(ageOn("2008-12-06", today)).toBe(17);
    expect(ageOn("1990-05-17", today)).toBe(36);
    expect(ageOn("1990-02-30", today)).toBeNull();
    expect(ageOn("17/05/1990", today)).toBeNull();
  });
});
