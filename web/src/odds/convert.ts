// Odds formats, pure: the API's decimal strings shown as decimal, fractional or American, exactly as the
// platform converts them (src/sportsbook/core/odds.py: to_fractional, to_american with half-up rounding).

export type OddsFormat = "decimal" | "fractional" | "american";

export const ODDS_FORMATS: readonly { value: OddsFormat; label: string }[] = [
  { value: "decimal", label: "Decimal" },
  { value: "fractional", label: "Fractional" },
  { value: "american", label: "American" },
];

export function isOddsFormat(value: unknown): value is OddsFormat {
  return value === "decimal" || value === "fractional" || value === "american";
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

function ratio(decimal: string): [bigint, bigint] | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(decimal.trim());
  if (m === null) return null;
  const frac = m[2] ?? "";
  return [BigInt(`${m[1]}${frac}`), 10n ** BigInt(frac.length)];
}

/** Decimal odds text ("2.50") in a format: "2.50", "3/2" or "+150". Text that is not a price above 1 is shown
 * as it came. */
export function formatOdds(decimal: string, format: OddsFormat): string {
  if (format === "decimal") return decimal;
  const r = ratio(decimal);
  if (r === null) return decimal;
  const [n, d] = r;
  const profit = n - d; // (odds - 1) = profit / d
  if (profit <= 0n) return decimal;
  if (format === "fractional") {
    const g = gcd(profit, d);
    return `${profit / g}/${d / g}`;
  }
  if (n >= 2n * d) {
    // +((odds - 1) × 100), half up
    return `+${(2n * profit * 100n + d) / (2n * d)}`;
  }
  // -(100 / (odds - 1)), half up
  return `-${(200n * d + profit) / (2n * profit)}`;
}
