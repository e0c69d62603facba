// Market names a player reads, from a market's type and specifiers (API.md "Catalogue").

const NAMES: Record<string, string> = {
  "1x2": "Match result",
  double_chance: "Double chance",
  draw_no_bet: "Draw no bet",
  total: "Total goals",
  asian_handicap: "Asian handicap",
  btts: "Both teams to score",
  correct_score: "Correct score",
  winner: "Winner",
};

export function marketName(type: string, specifiers: Record<string, string>): string {
  const base = NAMES[type] ?? type.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  const line = specifiers.total ?? specifiers.hcp;
  return line === undefined ? base : `${base} ${line}`;
}
