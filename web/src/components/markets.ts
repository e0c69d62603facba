// A market as a player reads it: "Match result", "Total goals over/under 2.5", "Asian handicap -0.25".

const NAMES: Record<string, string> = {
  "1x2": "Match result",
  double_chance: "Double chance",
  draw_no_bet: "Draw no bet",
  total: "Total",
  asian_handicap: "Asian handicap",
  btts: "Both teams to score",
  correct_score: "Correct score",
  winner: "Winner",
};

export function marketName(type: string, specifiers: Record<string, string> = {}): string {
  const base = NAMES[type] ?? type.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  const values = Object.values(specifiers);
  return values.length > 0 ? `${base} ${values.join(" ")}` : base;
}
