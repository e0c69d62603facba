import { describe, expect, it } from "vitest";
import { answered, isFinal, keyFor } from "./submission";

describe("idempotency keys per submission", () => {
  let n = 0;
  const fresh = () => `k${++n}`;
  it("is fresh for a first submission", () => {
    expect(keyFor(null, "{}", fresh)).toMatch(/^k/);
  });
  it("is kept for a retry of the same unanswered submission", () => {
    expect(keyFor({ key: "a", body: "{x}", answered: false }, "{x}", fresh)).toBe("a");
  });
  it("is fresh once answered, or when the details changed", () => {
    expect(keyFor({ key: "a", body: "{x}", answered: true }, "{x}", fresh)).not.toBe("a");
    expect(keyFor({ key: "a", body: "{x}", answered: false }, "{y}", fresh)).not.toBe("a");
  });
  it("counts 2xx and 4xx as answers, not 5xx or no connection", () => {
    expect(answered(201)).toBe(true);
    expect(answered(409)).toBe(true);
    expect(answered(502)).toBe(false);
    expect(answered(0)).toBe(false);
  });
  it("knows the final payment statuses", () => {
    expect(isFinal("succeeded")).toBe(true);
    expect(isFinal("failed")).toBe(true);
    expect(isFinal("pending")).toBe(false);
    expect(isFinal("requires_action")).toBe(false);
  });
});
