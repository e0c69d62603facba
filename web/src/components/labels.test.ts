import { describe, expect, it } from "vitest";
import { betType, formatDate, kycStatus, legResult, passwordHint, paymentStatus, transactionKind } from "./labels";

describe("labels", () => {
  it("names ledger kinds, falling back to readable words", () => {
    expect(transactionKind("bet_stake")).toBe("Bet placed");
    expect(transactionKind("deposit")).toBe("Deposit");
    expect(transactionKind("something_new")).toBe("Something new");
  });
  it("names payment statuses", () => {
    expect(paymentStatus("pending")).toBe("Processing");
    expect(paymentStatus("requires_action")).toMatch(/bank/);
  });
  it("names bet types", () => {
    expect(betType("single", 1)).toBe("Single");
    expect(betType("multiple", 2)).toBe("Double");
    expect(betType("multiple", 5)).toBe("5-fold accumulator");
    expect(betType("system", 4, "yankee")).toBe("Yankee");
    expect(betType("system", 4, "2/4")).toBe("System 2/4");
    expect(betType("single", 1, null, true)).toBe("Single, each way");
  });
  it("shows an open leg as open", () => {
    expect(legResult(null)).toBe("Open");
    expect(legResult("won")).toBe("Won");
  });
  it("explains KYC for withdrawals", () => {
    expect(kycStatus("verified").meaning).toMatch(/can withdraw/);
    expect(kycStatus("unverified").meaning).toMatch(/before you can withdraw/);
    expect(kycStatus(null).label).toBe("Not known");
  });
  it("shows a date of birth without a time-zone shift", () => {
    expect(formatDate("1990-05-17", "en-GB")).toBe("17 May 1990");
  });
  it("hints at password strength", () => {
    expect(passwordHint("").level).toBe(0);
    expect(passwordHint("short").text).toMatch(/5 more/);
    expect(passwordHint("annsmith-2026", "annsmith@example.com").level).toBe(1);
    expect(passwordHint("aaaaaaaaaaaa").level).toBe(1);
    expect(passwordHint("Correct-Horse-Battery").level).toBe(3);
    expect(passwordHint("password123").level).toBe(1);
    expect(passwordHint("Sunshine2026").level).toBe(1);
    expect(passwordHint("Blue-Kettle-77").level).toBe(3);
  });
});
