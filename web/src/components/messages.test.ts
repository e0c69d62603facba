// The sentences the money pages show for the platform's codes and the issuers' decline codes.
import { describe as group, expect, it } from "vitest";
import { describe } from "../api/messages";

group("describe", () => {
  it("explains the payment and cash-out refusals", () => {
    for (const code of ["kyc_required", "insufficient_funds", "invalid_card", "cashout_unavailable", "cashout_price_changed", "authentication_failed"]) {
      expect(describe(code)).not.toBe(describe(undefined));
    }
  });
  it("explains the test cards' declines", () => {
    expect(describe("43")).toMatch(/cannot be used/);
    expect(describe("54")).toMatch(/expired/);
    expect(describe("51")).toMatch(/insufficient funds/);
    expect(describe("R0")).toMatch(/stopped payments/);
  });
  it("falls back to the given sentence, then to a generic one", () => {
    expect(describe(null, "No money was taken.")).toBe("No money was taken.");
    expect(describe("zz_unknown")).toMatch(/declined|wrong/);
  });
});
