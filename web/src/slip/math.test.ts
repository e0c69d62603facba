import { describe, expect, it } from "vitest";
import fixture from "./quotes.fixture.json";
import {
  SYSTEMS,
  binomial,
  lineCount,
  oddsRatio,
  placeRatio,
  slipTerms,
  systemShape,
  systemsFor,
  type BetKind,
} from "./math";

type Case = {
  type: string;
  system: string | null;
  each_way: string | null;
  stake: number;
  odds: string[];
  lines: number;
  total_stake: number;
  potential_return: number;
};

const cases = fixture as Case[];

describe("slip arithmetic against the platform's own quotes (quotes.fixture.json)", () => {
  it("covers every bet type, every named system, a K/N and each-way", () => {
    const kinds = new Set(cases.map((c) => c.type));
    expect(kinds).toEqual(new Set(["single", "multiple", "system"]));
    const systems = new Set(cases.map((c) => c.system));
    for (const name of Object.keys(SYSTEMS)) expect(systems.has(name)).toBe(true);
    expect(systems.has("2/4")).toBe(true);
    expect(cases.some((c) => c.each_way !== null && c.type === "single")).toBe(true);
    expect(cases.some((c) => c.each_way !== null && c.type === "system")).toBe(true);
  });

  it.each(cases.map((c, i) => [i, `${c.type} ${c.system ?? ""} ew=${c.each_way ?? "no"} stake=${c.stake}`, c] as const))(
    "case %i: %s",
    (_i, _name, c) => {
      const terms = slipTerms(
        c.type as BetKind,
        c.system,
        c.odds.map((odds) => ({ odds, eachWay: c.each_way })),
        c.stake,
        c.each_way !== null,
      );
      expect(terms).toEqual({ lines: c.lines, totalStake: c.total_stake, potentialReturn: c.potential_return });
    },
  );
});

describe("slip arithmetic", () => {
  it("counts system lines", () => {
    expect(lineCount("system", "trixie", 3, false)).toBe(4);
    expect(lineCount("system", "patent", 3, false)).toBe(7);
    expect(lineCount("system", "yankee", 4, false)).toBe(11);
    expect(lineCount("system", "lucky15", 4, false)).toBe(15);
    expect(lineCount("system", "canadian", 5, false)).toBe(26);
    expect(lineCount("system", "lucky31", 5, false)).toBe(31);
    expect(lineCount("system", "heinz", 6, false)).toBe(57);
    expect(lineCount("system", "lucky63", 6, false)).toBe(63);
    expect(lineCount("system", "super_heinz", 7, false)).toBe(120);
    expect(lineCount("system", "goliath", 8, false)).toBe(247);
    expect(lineCount("system", "2/4", 4, false)).toBe(6);
    expect(lineCount("system", "yankee", 4, true)).toBe(22);
  });

  it("refuses what the platform refuses", () => {
    expect(lineCount("system", "yankee", 3, false)).toBe(0);
    expect(lineCount("system", "0/4", 4, false)).toBe(0);
    expect(lineCount("multiple", null, 1, false)).toBe(0);
    expect(slipTerms("single", null, [{ odds: "2.00", eachWay: null }], 100, true)).toBeNull();
  });

  it("offers the systems valid for the number of legs", () => {
    expect(systemsFor(3)).toEqual(["trixie", "patent", "2/3"]);
    expect(systemsFor(4)).toEqual(["yankee", "lucky15", "2/4", "3/4"]);
    expect(systemShape("goliath")).toEqual([8, [2, 3, 4, 5, 6, 7, 8]]);
    expect(binomial(20, 10)).toBe(184756);
  });

  it("computes place odds exactly", () => {
    const r = placeRatio(oddsRatio("11.0") ?? [0n, 1n], [1n, 5n]);
    expect(Number(r[0]) / Number(r[1])).toBe(3);
    // each-way single at 11.0, 1/5: win 10 × 11 = 110, place 10 × 3 = 30
    expect(slipTerms("single", null, [{ odds: "11.0", eachWay: "1/5" }], 10, true)).toEqual({
      lines: 2,
      totalStake: 20,
      potentialReturn: 140,
    });
  });

  it("floors each line once, not the total", () => {
    // 1.95 × 1.95 = 3.8025: 1 unit returns 3 per line
    expect(slipTerms("multiple", null, [{ odds: "1.95", eachWay: null }, { odds: "1.95", eachWay: null }], 1, false))
      .toEqual({ lines: 1, totalStake: 1, potentialReturn: 3 });
  });
});
