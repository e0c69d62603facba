// Every refusal code of the public contract (../shared/API.md), as a sentence a player understands.
// A code missing here falls back to the API's own message, so a new code never shows as a bare identifier.

const PLAYER: Record<string, string> = {
  // registration and login
  email_taken: "An account with this email already exists. Try logging in instead.",
  underage: "You must be 18 or older to open an account.",
  weak_password: "Choose a stronger password: longer, and not easy to guess.",
  invalid_email: "That email address does not look right.",
  invalid_country: "Choose your country from the list.",
  invalid_currency: "Choose a currency from the list.",
  invalid_credentials: "The email or password is not right.",
  otp_required: "Enter the code from your authenticator app.",
  account_locked: "Too many tries: your account is locked for a while. Try again later.",
  account_disabled: "This account is closed. Contact support.",
  rate_limited: "Too many tries in a short time. Wait a moment and try again.",
  self_excluded: "Your account is self-excluded, so betting and deposits are closed until the period ends.",
  unauthorized: "Your session has ended. Please log in again.",
  forbidden: "Your account may not do that.",
  // bets
  insufficient_funds: "You do not have enough money in your wallet for this.",
  odds_changed: "The odds changed before your bet was placed. Check the new odds and place it again.",
  market_suspended: "Betting on this market is paused for a moment. Try again shortly.",
  selection_closed: "This selection is no longer available.",
  market_closed: "This market is closed.",
  event_closed: "This event is no longer open for betting.",
  stake_too_high: "Your stake is above the maximum for this bet. Lower it and try again.",
  stake_too_low: "Your stake is below the minimum for this bet.",
  liability_exceeded: "We cannot accept this stake on this selection right now. Try a smaller stake.",
  related_legs: "These selections depend on each other, so they cannot be combined in one bet.",
  limit_reached: "This would go past a limit you have set on your account.",
  each_way_not_offered: "Each-way is not offered on this market.",
  invalid_bet: "This combination of selections cannot be placed as one bet.",
  invalid_odds: "These odds are not valid.",
  invalid_amount: "Enter an amount greater than zero.",
  selection_not_found: "This selection no longer exists.",
  bet_not_found: "This bet cannot be found.",
  bet_not_open: "This bet is already settled.",
  cashout_price_changed: "The cash-out price changed. Check the new amount and try again.",
  cashout_unavailable: "Cash-out is not available on this bet right now.",
  // payments
  invalid_card: "The card number, expiry date or security code is not valid.",
  card_blocked: "This card cannot be used here. Please use another card.",
  kyc_required: "We need to verify your identity before you can withdraw. Contact support.",
  no_connector_available: "Card payments are unavailable right now. Please try again later.",
  retry_limit_reached: "This card has been declined too often. Please use another card or try again tomorrow.",
  connector_error: "The payment service did not answer. No money was taken: please try again.",
  authentication_failed: "The card's security check (3-D Secure) failed. No money was taken.",
  payment_not_found: "This payment cannot be found.",
  no_action_required: "This payment needs nothing more from you.",
  // generic
  idempotency_key_reused: "This request was already sent with different details. Please start again.",
  invalid_request: "Some of the details are missing or not valid.",
  malformed_json: "Some of the details are missing or not valid.",
  not_found: "This cannot be found.",
  network_error: "The connection dropped. Check your connection and try again.",
  idempotency_key_required: "This request could not be sent safely. Please reload the page and try again.",
  invalid_cursor: "This list changed. Reload the page to see it from the start.",
  event_not_found: "This event cannot be found.",
  authentication_required: "Your bank needs a security check (3-D Secure). Please try again.",
};

// The issuer's decline codes, as a deposit's `decline_code` carries them.
const DECLINES: Record<string, string> = {
  "05": "Your bank declined the payment. Contact your bank or use another card.",
  "51": "Your bank declined the payment: insufficient funds.",
  "54": "Your card has expired. Check the expiry date or use another card.",
  "55": "The PIN or security code was wrong. Check your card details.",
  N7: "The security code (CVC) was wrong. Check your card details.",
  "82": "The security code (CVC) was wrong. Check your card details.",
  "1A": "Your bank needs a security check (3-D Secure). Please try again.",
  "41": "This card cannot be used. Contact your bank.",
  "43": "This card cannot be used. Contact your bank.",
  "04": "This card cannot be used. Contact your bank.",
  "07": "This card cannot be used. Contact your bank.",
  "14": "The card number is not valid at your bank. Check it or use another card.",
  "57": "Your bank does not allow this payment on this card.",
  "61": "This is over your card's limit. Try a smaller amount.",
  "65": "This is over your card's limit. Try a smaller amount.",
  "91": "Your bank is not answering. Please try again later.",
  "96": "The payment service had a problem. Please try again.",
  "01": "Your bank asks you to contact them about this payment.",
  "03": "This payment cannot be taken here. Please use another card.",
  "12": "Your bank refused this kind of payment. Contact your bank or use another card.",
  "13": "The amount is not valid for this card.",
  "15": "The card number is not valid at your bank. Check it or use another card.",
  "19": "Please try the payment again.",
  "21": "Your bank refused the payment. Contact your bank or use another card.",
  "46": "This card account is closed. Please use another card.",
  "59": "Your bank declined the payment. Contact your bank or use another card.",
  "62": "This card cannot be used for this payment. Contact your bank or use another card.",
  "63": "Your bank declined the payment. Contact your bank or use another card.",
  R0: "You have stopped payments on this card. Please use another card.",
  R1: "You have stopped payments on this card. Please use another card.",
  R3: "You have stopped payments on this card. Please use another card.",
};

/** The sentence to show a player for an API code (or an issuer's decline code). */
export function describe(code: string | null | undefined, fallback?: string): string {
  if (!code) return fallback ?? "Something went wrong. Please try again.";
  return PLAYER[code] ?? DECLINES[code] ?? fallback ?? "Your bank declined the payment. Please use another card.";
}

export const KNOWN_CODES: readonly string[] = Object.keys(PLAYER);
