// Placeholder until the odds formats are built (issue 13).
import type { ReactNode } from "react";
export function OddsFormatProvider({ children }: { children: ReactNode }) {
  return <>{children}</>;
}
export function OddsFormatPicker() {
  return null;
}
