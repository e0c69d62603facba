import { describe, expect, it } from "vitest";
import { safeNext } from "./next";

describe("safeNext", () => {
  it("keeps a path on this site", () => {
    expect(safeNext("/wallet")).toBe("/wallet");
    expect(safeNext("/events/abc?x=1")).toBe("/events/abc?x=1");
  });
  it("never leaves the site", () => {
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("//evil.example")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
  it("does not loop back to login", () => {
    expect(safeNext("/login?next=/x")).toBe("/");
  });
});
