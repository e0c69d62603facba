// Odds typed by a trader, checked as the API checks them (`invalid_odds`), so a typo is caught before sending.

/** The odds as the API takes them ("2.5" → "2.50"), or null unless a decimal from 1.01 to 1001 with at
 * most two decimals. */
export function parseOdds(text: string): string | null {
  const trimmed = text.trim();
  if (!/^\d{1,4}(\.\d{1,2})?$/.test(trimmed)) return null;
  const [whole = "0", fraction = ""] = trimmed.split(".");
  const hundredths = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  if (hundredths < 101 || hundredths > 100100) return null;
  return `${Math.trunc(hundredths / 100)}.${String(hundredths % 100).padStart(2, "0")}`;
}
