// Placeholder until live odds are built (issue 13).
import type { ReactNode } from "react";
export function LiveOddsProvider({ children }: { children: ReactNode }) {
  return <>{children}</>;
}
