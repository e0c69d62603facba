// The bet slip's arithmetic, pure and exact, mirroring the platform's bet terms (src/sportsbook/betting/model.py):
// a single has one line per leg, a multiple one line of every leg, a system one line per combination of its
// sizes; each-way gives every combination a win line and a place line (place odds = 1 + (odds - 1) × fraction).
// Stake is per line in integer minor units; a line returns floor(stake × line odds), computed with integer
// ratios (BigInt) and floored once per line, exactly as the platform does. No floats anywhere.

export type BetKind = "single" | "multiple" | "system";

export const MAX_LEGS = 20;
export const MAX_LINES = 10_000;

/** Named systems: number of legs and the combination sizes they contain (as the platform's SYSTEMS). */
export const SYSTEMS: Readonly<Record<string, readonly [number, readonly number[]]>> = {
  trixie: [3, [2, 3]],
  patent: [3, [1, 2, 3]],
  yankee: [4, [2, 3, 4]],
  lucky15: [4, [1, 2, 3, 4]],
  canadian: [5, [2, 3, 4, 5]],
  lucky31: [5, [1, 2, 3, 4, 5]],
  heinz: [6, [2, 3, 4, 5, 6]],
  lucky63: [6, [1, 2, 3, 4, 5, 6]],
  super_heinz: [7, [2, 3, 4, 5, 6, 7]],
  goliath: [8, [2, 3, 4, 5, 6, 7, 8]],
};

const SYSTEM_LABELS: Record<string, string> = {
  trixie: "Trixie",
  patent: "Patent",
  yankee: "Yankee",
  lucky15: "Lucky 15",
  canadian: "Canadian",
  lucky31: "Lucky 31",
  heinz: "Heinz",
  lucky63: "Lucky 63",
  super_heinz: "Super Heinz",
  goliath: "Goliath",
};

/** A player-facing name for a system ("lucky15" → "Lucky 15", "2/4" → "2 from 4 (doubles)"). */
export function systemLabel(system: string): string {
  const named = SYSTEM_LABELS[system];
  if (named !== undefined) return named;
  const shape = kOfN(system);
  if (shape === null) return system;
  const folds: Record<number, string> = { 1: "singles", 2: "doubles", 3: "trebles" };
  return `${shape[0]} from ${shape[1]} (${folds[shape[0]] ?? `${shape[0]}-folds`})`;
}

function kOfN(system: string): [number, number] | null {
  const m = /^([1-9][0-9]?)\/([1-9][0-9]?)$/.exec(system);
  if (m === null) return null;
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!(k >= 1 && k <= n && n <= MAX_LEGS)) return null;
  return [k, n];
}

/** A system's number of legs and combination sizes, or null for an unknown system. */
export function systemShape(system: string): readonly [number, readonly number[]] | null {
  const named = SYSTEMS[system];
  if (named !== undefined) return named;
  const shape = kOfN(system);
  return shape === null ? null : [shape[1], [shape[0]]];
}

/** The systems a slip of `n` legs can be placed as: the named ones of that size, then every K/N with 1 < K < N. */
export function systemsFor(n: number): string[] {
  const out = Object.keys(SYSTEMS).filter((name) => SYSTEMS[name]?.[0] === n);
  for (let k = 2; k < n; k++) {
    if (binomial(n, k) <= MAX_LINES) out.push(`${k}/${n}`);
  }
  return out;
}

export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

function* combinations(n: number, k: number): Generator<number[]> {
  const idx = Array.from({ length: k }, (_, i) => i);
  if (k > n) return;
  for (;;) {
    yield idx.slice();
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i] = (idx[i] ?? 0) + 1;
    for (let j = i + 1; j < k; j++) idx[j] = (idx[j - 1] ?? 0) + 1;
  }
}

export type Line = { legs: number[]; part: "win" | "place" };

/** The combinations (leg indexes) a bet stands for, before each-way; null when the bet is not valid. */
export function combos(kind: BetKind, system: string | null, n: number): number[][] | null {
  if (kind === "single") {
    return n >= 1 && n <= MAX_LEGS ? Array.from({ length: n }, (_, i) => [i]) : null;
  }
  if (kind === "multiple") {
    return n >= 2 && n <= MAX_LEGS ? [Array.from({ length: n }, (_, i) => i)] : null;
  }
  if (system === null) return null;
  const shape = systemShape(system);
  if (shape === null || shape[0] !== n) return null;
  const count = shape[1].reduce((s, k) => s + binomial(n, k), 0);
  if (count > MAX_LINES) return null;
  const out: number[][] = [];
  for (const k of shape[1]) for (const c of combinations(n, k)) out.push(c);
  return out;
}

/** Every line of the bet (each-way: a win line then a place line per combination); null when not valid. */
export function expandLines(kind: BetKind, system: string | null, n: number, eachWay: boolean): Line[] | null {
  const cs = combos(kind, system, n);
  if (cs === null) return null;
  if (!eachWay) return cs.map((legs) => ({ legs, part: "win" }));
  if (2 * cs.length > MAX_LINES) return null;
  return cs.flatMap((legs) => [
    { legs, part: "win" as const },
    { legs, part: "place" as const },
  ]);
}

/** The number of lines of a bet (an each-way line counts twice), or 0 when the bet is not valid. */
export function lineCount(kind: BetKind, system: string | null, n: number, eachWay: boolean): number {
  const cs = combos(kind, system, n);
  if (cs === null) return 0;
  return eachWay ? 2 * cs.length : cs.length;
}

/** A ratio num/den of two BigInts (not reduced: only its floor after a multiplication is ever taken). */
export type Ratio = readonly [bigint, bigint];

/** Decimal odds text ("1.95", "11.0", "2.375") → an exact ratio, or null when it is not a plain decimal. */
export function oddsRatio(odds: string): Ratio | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(odds.trim());
  if (m === null) return null;
  const frac = m[2] ?? "";
  return [BigInt(`${m[1]}${frac}`), 10n ** BigInt(frac.length)];
}

/** An each-way fraction ("1/5") → its ratio, or null. */
export function fractionRatio(text: string): Ratio | null {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null || Number(m[2]) === 0) return null;
  return [BigInt(m[1] ?? "0"), BigInt(m[2] ?? "1")];
}

/** Place odds: 1 + (odds − 1) × fraction, exact. */
export function placeRatio(odds: Ratio, fraction: Ratio): Ratio {
  const [n, d] = odds;
  const [fn, fd] = fraction;
  return [d * fd + (n - d) * fn, d * fd];
}

export type SlipLeg = { odds: string; eachWay: string | null };

export type SlipTerms = { lines: number; totalStake: number; potentialReturn: number };

/** Lines, total stake and potential return of a bet (stake per line, minor units), or null when it is not
 * valid: an unknown system, the wrong number of legs, a leg without each-way terms on an each-way bet, or odds
 * that are not decimals. */
export function slipTerms(
  kind: BetKind,
  system: string | null,
  legs: readonly SlipLeg[],
  stake: number,
  eachWay: boolean,
): SlipTerms | null {
  const lines = expandLines(kind, system, legs.length, eachWay);
  if (lines === null || !Number.isSafeInteger(stake) || stake < 0) return null;
  const win: Ratio[] = [];
  const place: (Ratio | null)[] = [];
  for (const leg of legs) {
    const r = oddsRatio(leg.odds);
    if (r === null) return null;
    win.push(r);
    const f = leg.eachWay === null ? null : fractionRatio(leg.eachWay);
    place.push(f === null ? null : placeRatio(r, f));
  }
  const s = BigInt(stake);
  let total = 0n;
  for (const line of lines) {
    let num = 1n;
    let den = 1n;
    for (const i of line.legs) {
      const r = line.part === "win" ? win[i] : place[i];
      if (r === undefined || r === null) return null;
      num *= r[0];
      den *= r[1];
    }
    total += (s * num) / den; // BigInt division floors for non-negative values
  }
  return { lines: lines.length, totalStake: stake * lines.length, potentialReturn: Number(total) };
}
