// Names staff read: a market by its type and line ("total 2.5"), so each market's controls are told apart.

export function marketLabel(type: string, specifiers: Record<string, string>): string {
  const line = Object.values(specifiers).join(" ");
  return line ? `${type} ${line}` : type;
}

/** Final job states: polling stops there. */
export function jobFinished(status: string): boolean {
  return status === "succeeded" || status === "failed";
}

/** An amount whose currency the API does not say (settlement reports, exposures): minor units, grouped. */
export function minorUnits(amount: number): string {
  return amount.toLocaleString("en-GB");
}
