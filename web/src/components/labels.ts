// Words for the API's identifiers as a player reads them (statuses, ledger kinds, bet types), with a readable
// fallback so a new identifier never shows raw.

function humanize(id: string): string {
  const text = id.replace(/[_-]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const KINDS: Record<string, string> = {
  deposit: "Deposit",
  withdrawal: "Withdrawal",
  refund: "Refund to card",
  chargeback: "Chargeback",
  bet_stake: "Bet placed",
  bet_stake_refund: "Stake returned",
  bet_return: "Bet paid out",
  bet_resettle: "Bet resettled",
  cashout: "Cash out",
  adjustment: "Adjustment",
  psp_fee: "Payment fee",
};

/** A wallet transaction's kind ("bet_stake" → "Bet placed"). */
export function transactionKind(kind: string): string {
  return KINDS[kind] ?? humanize(kind);
}

const PAYMENT_STATUS: Record<string, string> = {
  succeeded: "Succeeded",
  failed: "Failed",
  pending: "Processing",
  requires_action: "Waiting for your bank's check",
};

export function paymentStatus(status: string): string {
  return PAYMENT_STATUS[status] ?? humanize(status);
}

const DIRECTIONS: Record<string, string> = {
  deposit: "Deposit",
  withdrawal: "Withdrawal",
  refund: "Refund",
  chargeback: "Chargeback",
};

export function paymentDirection(direction: string): string {
  return DIRECTIONS[direction] ?? humanize(direction);
}

const BET_STATUS: Record<string, string> = {
  pending: "Pending (in-play delay)",
  open: "Open",
  rejected: "Rejected",
  won: "Won",
  lost: "Lost",
  void: "Void",
  half_won: "Half won",
  half_lost: "Half lost",
  cashed_out: "Cashed out",
};

export function betStatus(status: string): string {
  return BET_STATUS[status] ?? humanize(status);
}

const LEG_RESULT: Record<string, string> = {
  won: "Won",
  lost: "Lost",
  void: "Void",
  placed: "Placed",
  half_won: "Half won",
  half_lost: "Half lost",
};

/** A leg's result, or "Open" while it has none. */
export function legResult(result: string | null | undefined): string {
  if (!result) return "Open";
  return LEG_RESULT[result] ?? humanize(result);
}

/** A bet's type: "single", "multiple" (a double, treble, 4-fold ...), or the system's name. */
export function betType(type: string, legs: number, system?: string | null, eachWay?: boolean): string {
  let name: string;
  if (type === "system" && system) {
    name = /^\d+\/\d+$/.test(system) ? `System ${system}` : humanize(system);
  } else if (type === "multiple") {
    name = legs === 2 ? "Double" : legs === 3 ? "Treble" : `${legs}-fold accumulator`;
  } else {
    name = humanize(type);
  }
  return eachWay ? `${name}, each way` : name;
}

const KYC: Record<string, { label: string; meaning: string }> = {
  verified: { label: "Verified", meaning: "Your identity is verified: you can withdraw to your card." },
  pending: {
    label: "Being checked",
    meaning: "We are checking your documents. You can deposit and bet; withdrawals open once the check is done.",
  },
  unverified: {
    label: "Not verified",
    meaning: "You can deposit and bet, but we need to verify your identity before you can withdraw. Contact support.",
  },
  rejected: {
    label: "Not accepted",
    meaning: "We could not verify your identity, so withdrawals are closed. Contact support.",
  },
};

/** A player's identity check status and what it means for withdrawals. */
export function kycStatus(status: string | null | undefined): { label: string; meaning: string } {
  if (!status) return { label: "Not known", meaning: "Contact support to find out whether you can withdraw." };
  return KYC[status] ?? { label: humanize(status), meaning: "Contact support to find out whether you can withdraw." };
}

/** An ISO date-time as the reader's local date and time. */
export function formatDateTime(iso: string, locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

/** An ISO date ("1990-05-17") as the reader's date, without a time-zone shift. */
export function formatDate(iso: string, locale?: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (m === null) return iso;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toLocaleDateString(locale, { dateStyle: "long", timeZone: "UTC" });
}

const COMMON = ["password", "passwort", "qwerty", "letmein", "welcome", "football", "123456", "abc123", "iloveyou", "sportsbook"];

/** A rough strength hint for a new password (the platform decides: at least 10 characters, hard to guess). */
export function passwordHint(password: string, email = ""): { level: 0 | 1 | 2 | 3; text: string } {
  if (password.length === 0) return { level: 0, text: "At least 10 characters; a few unrelated words work well." };
  if (password.length < 10) return { level: 0, text: `Too short: ${10 - password.length} more characters needed.` };
  const local = email.split("@")[0]?.toLowerCase() ?? "";
  if (local.length >= 3 && password.toLowerCase().includes(local)) {
    return { level: 1, text: "Weak: do not use your email in your password." };
  }
  const lower = password.toLowerCase();
  if (COMMON.some((w) => lower.includes(w)) || /^[a-z]+[\d!.?]*$/i.test(password)) {
    if (password.length < 16) return { level: 1, text: "Weak: common words and a word with numbers are guessed first." };
  }
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  const distinct = new Set(password).size;
  if (distinct < 5 || /^(.)\1+$/.test(password)) return { level: 1, text: "Weak: too repetitive." };
  if (password.length >= 16 || (password.length >= 12 && classes >= 3)) {
    return { level: 3, text: "Looks strong." };
  }
  return { level: 2, text: "Fair: a longer password is harder to guess." };
}
