import { describe, expect, it } from "vitest";
import {
  cardBody,
  cardDigits,
  cardErrors,
  cardNumberError,
  cvcError,
  expiryError,
  expiryYear,
  formatCardNumber,
  lastFour,
  luhnValid,
} from "./card";

describe("card numbers", () => {
  it("keeps the digits", () => {
    expect(cardDigits("4242 4242-4242 4242")).toBe("4242424242424242");
  });
  it("groups in fours", () => {
    expect(formatCardNumber("4242424242424242")).toBe("4242 4242 4242 4242");
    expect(formatCardNumber("4000 00")).toBe("4000 00");
    expect(formatCardNumber("")).toBe("");
  });
  it("checks Luhn", () => {
    expect(luhnValid("4242424242424242")).toBe(true);
    expect(luhnValid("4000000000003220")).toBe(true);
    expect(luhnValid("4100000000000019")).toBe(true);
    expect(luhnValid("4242424242424241")).toBe(false);
    expect(luhnValid("")).toBe(false);
  });
  it("explains what is wrong", () => {
    expect(cardNumberError("4242 4242 4242 4242")).toBeNull();
    expect(cardNumberError("")).toMatch(/Enter/);
    expect(cardNumberError("4242 abcd")).toMatch(/digits only/);
    expect(cardNumberError("4242")).toMatch(/12 to 19/);
    expect(cardNumberError("4242424242424241")).toMatch(/not valid/);
  });
  it("gives the last four", () => {
    expect(lastFour("4000 0000 0000 3220")).toBe("3220");
  });
});

describe("expiry and security code", () => {
  const now = new Date(2026, 11, 5); // December 2026
  it("reads two- and four-digit years", () => {
    expect(expiryYear("29")).toBe(2029);
    expect(expiryYear("2031")).toBe(2031);
    expect(expiryYear("3")).toBeNull();
    expect(expiryYear("twenty")).toBeNull();
  });
  it("refuses an expired card and takes the current month", () => {
    expect(expiryError(12, 2026, now)).toBeNull();
    expect(expiryError(11, 2026, now)).toMatch(/expired/);
    expect(expiryError(1, 2027, now)).toBeNull();
    expect(expiryError(1, 2025, now)).toMatch(/expired/);
    expect(expiryError(0, 2027, now)).toMatch(/month/);
    expect(expiryError(5, null, now)).toMatch(/year/);
  });
  it("checks the security code", () => {
    expect(cvcError("123")).toBeNull();
    expect(cvcError("1234")).toBeNull();
    expect(cvcError("12")).not.toBeNull();
    expect(cvcError("12a")).not.toBeNull();
  });
});

describe("the card form", () => {
  const now = new Date(2026, 11, 5);
  const good = { number: "4242 4242 4242 4242", month: "12", year: "2029", cvc: "123", holder: "Ann Smith" };
  it("takes a good card and sends its digits", () => {
    expect(cardErrors(good, now)).toEqual({});
    expect(cardBody(good)).toEqual({
      number: "4242424242424242",
      expiry_month: 12,
      expiry_year: 2029,
      cvc: "123",
      holder: "Ann Smith",
    });
  });
  it("names each wrong field", () => {
    const errors = cardErrors({ number: "4242 4242 4242 4241", month: "", year: "2029", cvc: "1", holder: " " }, now);
    expect(Object.keys(errors).sort()).toEqual(["cvc", "holder", "month", "number"]);
    expect(cardErrors({ ...good, month: "1", year: "2026" }, now).year).toMatch(/expired/);
    expect(cardErrors({ ...good, year: "" }, now).year).toMatch(/year/);
  });
});
