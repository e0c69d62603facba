// Every refusal code of the public contract (../shared/API.md) has a sentence of its own for players.
import { describe as group, expect, it } from "vitest";
import { KNOWN_CODES, describe } from "./messages";

const CONTRACT_CODES = [
  // players and sessions
  "email_taken", "underage", "weak_password", "invalid_credentials", "otp_required", "account_locked",
  "rate_limited", "self_excluded", "limit_reached", "forbidden",
  // payments
  "insufficient_funds", "kyc_required", "invalid_card",
  // bets (reject_code or error code) and cash-out
  "odds_changed", "market_suspended", "selection_closed", "stake_too_high", "stake_too_low",
  "liability_exceeded", "related_legs", "cashout_price_changed",
  // conventions
  "idempotency_key_reused",
];

group("player sentences", () => {
  it.each(CONTRACT_CODES)("%s has its own sentence", (code) => {
    expect(KNOWN_CODES).toContain(code);
    expect(describe(code)).not.toBe(describe(undefined));
    expect(describe(code)).toMatch(/[.!?]$/);
  });

  it("no two codes of the contract read the same unless they mean the same", () => {
    const sentences = new Set(CONTRACT_CODES.map((c) => describe(c)));
    expect(sentences.size).toBe(CONTRACT_CODES.length);
  });
});
