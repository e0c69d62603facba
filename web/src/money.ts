// Money on screen: amounts are integer minor units with a currency (as the API sends them), never floats.

const DIGITS: Record<string, number> = { JPY: 0, KRW: 0, ISK: 0, HUF: 2, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3 };

/** How many minor-unit digits a currency has (ISO 4217; 2 unless listed). */
export function minorDigits(currency: string): number {
  return DIGITS[currency.toUpperCase()] ?? 2;
}

/** `1050, "EUR"` → "€10.50" in the reader's locale. */
export function formatMoney(minor: number, currency: string, locale?: string): string {
  const digits = minorDigits(currency);
  const negative = minor < 0;
  const abs = Math.abs(minor);
  const scale = 10 ** digits;
  const whole = Math.trunc(abs / scale);
  const cents = abs % scale;
  // format the whole part with the currency, then splice the exact minor digits in: no float rounding
  const parts = new Intl.NumberFormat(locale, {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).formatToParts(whole);
  const text = parts
    .map((p) => (p.type === "fraction" ? String(cents).padStart(digits, "0") : p.value))
    .join("");
  return negative ? `-${text}` : text;
}

/** A typed amount ("10", "10.5", "10.50") → minor units, or null when it is not a valid amount. */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const trimmed = text.trim().replace(",", ".");
  const pattern = digits === 0 ? /^\d{1,12}$/ : new RegExp(`^\\d{1,12}(\\.\\d{0,${digits}})?$`);
  if (!pattern.test(trimmed)) return null;
  const [whole = "0", fraction = ""] = trimmed.split(".");
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
}
