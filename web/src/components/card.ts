// Card details as a player types them: checked here before anything is sent, so a typo is caught at once
// (the API refuses the same mistakes with 422 `invalid_card`).

/** The digits of a typed card number ("4242 4242-4242" → "42424242..."). */
export function cardDigits(text: string): string {
  return text.replace(/\D/g, "");
}

/** A card number grouped in fours for display ("4242424242424242" → "4242 4242 4242 4242"). */
export function formatCardNumber(text: string): string {
  return (cardDigits(text).slice(0, 19).match(/.{1,4}/g) ?? []).join(" ");
}

/** The Luhn check every card number passes. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Whether a typed card number may be sent: spaces and dashes only as separators, 12 to 19 digits, Luhn. */
export function cardNumberError(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed === "") return "Enter the card number.";
  if (!/^[\d\s-]+$/.test(trimmed)) return "A card number has digits only.";
  const digits = cardDigits(trimmed);
  if (digits.length < 12 || digits.length > 19) return "A card number has 12 to 19 digits.";
  if (!luhnValid(digits)) return "This card number is not valid: check it for a typo.";
  return null;
}

/** A typed expiry year ("27" or "2027") as a full year, or null. */
export function expiryYear(text: string): number | null {
  const t = text.trim();
  if (/^\d{2}$/.test(t)) return 2000 + Number(t);
  if (/^\d{4}$/.test(t)) return Number(t);
  return null;
}

/** Whether the card is still valid at `now`: it expires at the end of its expiry month. */
export function expiryError(month: number, year: number | null, now: Date = new Date()): string | null {
  if (!Number.isInteger(month) || month < 1 || month > 12) return "Choose the expiry month.";
  if (year === null || year < 2000 || year > 2100) return "Enter the expiry year (for example 2029).";
  const thisYear = now.getFullYear();
  const thisMonth = now.getMonth() + 1;
  if (year < thisYear || (year === thisYear && month < thisMonth)) return "This card has expired.";
  return null;
}

/** The security code: 3 digits, or 4 (American Express). */
export function cvcError(text: string): string | null {
  return /^\d{3,4}$/.test(text.trim()) ? null : "The security code is the 3 or 4 digits on the card.";
}

/** The last four digits of a typed card number. */
export function lastFour(text: string): string {
  return cardDigits(text).slice(-4);
}

export type CardForm = { number: string; month: string; year: string; cvc: string; holder: string };

export const EMPTY_CARD: CardForm = { number: "", month: "", year: "", cvc: "", holder: "" };

export type CardBody = { number: string; expiry_month: number; expiry_year: number; cvc: string; holder: string };

export type CardErrors = Partial<Record<keyof CardForm, string>>;

/** What is wrong with the typed card, field by field (empty when it may be sent). */
export function cardErrors(card: CardForm, now: Date = new Date()): CardErrors {
  const errors: CardErrors = {};
  const number = cardNumberError(card.number);
  if (number !== null) errors.number = number;
  const expiry = expiryError(Number(card.month), card.year === "" ? null : Number(card.year), now);
  if (expiry !== null) {
    if (card.month === "" || /month/.test(expiry)) errors.month = expiry;
    else errors.year = expiry;
  }
  const cvc = cvcError(card.cvc);
  if (cvc !== null) errors.cvc = cvc;
  if (card.holder.trim() === "") errors.holder = "Enter the name on the card.";
  return errors;
}

export function cardBody(card: CardForm): CardBody {
  return {
    number: cardDigits(card.number),
    expiry_month: Number(card.month),
    expiry_year: Number(card.year),
    cvc: card.cvc.trim(),
    holder: card.holder.trim(),
  };
}
