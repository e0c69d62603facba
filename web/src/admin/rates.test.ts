import { describe, expect, it } from "vitest";
import { bucketsBetween, millis, p99Between, percent, perSecond, quantile } from "./rates";

describe("perSecond", () => {
  it("divides the counter's growth by the interval", () => {
    expect(perSecond(100, 160, 2)).toBe(30);
  });
  it("treats a counter that fell as a restart", () => {
    expect(perSecond(500, 10, 2)).toBe(5);
  });
  it("has no rate without an interval", () => {
    expect(perSecond(1, 2, 0)).toBeNull();
  });
});

describe("quantile", () => {
  const buckets = [
    { le: 0.01, count: 50 },
    { le: 0.1, count: 90 },
    { le: 1, count: 100 },
    { le: null, count: 100 },
  ];
  it("interpolates inside the bucket holding the rank", () => {
    expect(quantile(0.7, buckets)).toBeCloseTo(0.055);
    expect(quantile(0.99, buckets)).toBeCloseTo(0.91);
  });
  it("answers the last finite bound for a rank in +Inf", () => {
    expect(quantile(0.99, [{ le: 0.5, count: 1 }, { le: null, count: 10 }])).toBe(0.5);
  });
  it("is null before anything was observed", () => {
    expect(quantile(0.99, [{ le: null, count: 0 }])).toBeNull();
  });
});

describe("between two samples", () => {
  it("takes only what was observed in between", () => {
    const before = [
      { le: 0.01, count: 100 },
      { le: null, count: 100 },
    ];
    const after = [
      { le: 0.01, count: 100 },
      { le: null, count: 110 },
    ];
    expect(bucketsBetween(before, after)).toEqual([
      { le: 0.01, count: 0 },
      { le: null, count: 10 },
    ]);
    expect(p99Between(before, after)).toBe(0.01);
  });
  it("is null when nothing happened", () => {
    const same = [{ le: 0.01, count: 3 }, { le: null, count: 3 }];
    expect(p99Between(same, same)).toBeNull();
  });
});

describe("formatting", () => {
  it("shows shares and durations", () => {
    expect(percent(0.975)).toBe("97.5 %");
    expect(percent(null)).toBe("—");
    expect(millis(0.0042)).toBe("4.2 ms");
  });
});
