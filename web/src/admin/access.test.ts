import { describe, expect, it } from "vitest";
import { can, pagesFor } from "./access";

describe("role-aware navigation", () => {
  it("shows admins every page", () => {
    expect(pagesFor("admin").map((p) => p.path)).toEqual(["trading", "liabilities", "players", "payments", "monitoring"]);
  });
  it("shows traders trading, liabilities and monitoring only", () => {
    expect(pagesFor("trader").map((p) => p.path)).toEqual(["trading", "liabilities", "monitoring"]);
  });
  it("shows support players and monitoring", () => {
    expect(pagesFor("support").map((p) => p.path)).toEqual(["players", "monitoring"]);
  });
  it("lets only payments staff (and admins) adjust a wallet", () => {
    expect(can("payments", "players.adjust")).toBe(true);
    expect(can("support", "players.adjust")).toBe(false);
    expect(can("admin", "players.adjust")).toBe(true);
  });
  it("gives a player nothing", () => {
    expect(pagesFor("player")).toEqual([]);
  });
});
