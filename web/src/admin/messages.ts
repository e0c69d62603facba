// A refusal from the API as one sentence for staff.

const SENTENCES: Record<string, string> = {
  forbidden: "Your role may not do this. Ask an admin if you need it.",
  unauthorized: "Your session has ended. Log in again.",
  network_error: "The platform cannot be reached. Check the connection and try again.",
  idempotency_key_reused: "This action was already sent with different details. Start it again.",
  invalid_request: "Some of the details are not valid.",
  invalid_odds: "Odds must be a decimal from 1.01 to 1001 with at most two decimals.",
  insufficient_funds: "The player's cash does not cover this debit.",
  market_already_settled: "This market is already settled. Roll the settlement back first.",
  event_already_resulted: "This event was resulted with another score. Roll its settlements back first.",
  settlement_not_found: "This market has no settlement to roll back.",
};

/** What to tell staff about an error thrown by an API call (or anything else). */
export function describeError(error: unknown): string {
  if (isRefusal(error)) {
    const known = SENTENCES[error.code];
    if (known !== undefined) return known;
    const message = error.message.trim();
    const sentence = message ? message.charAt(0).toUpperCase() + message.slice(1) : error.code.replaceAll("_", " ");
    return `${sentence.replace(/[.!]?$/, ".")} (${error.code})`;
  }
  return error instanceof Error ? error.message : "Something went wrong.";
}

type Refusal = { status: number; code: string; message: string };

// Duck-typed rather than `instanceof ApiError`, so this stays pure (api/client needs a window).
function isRefusal(error: unknown): error is Refusal {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as Refusal).code === "string" &&
    typeof (error as Refusal).status === "number"
  );
}
