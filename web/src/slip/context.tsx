// Placeholder until the bet slip is built (issue 13).
import type { ReactNode } from "react";
export function SlipProvider({ children }: { children: ReactNode }) {
  return <>{children}</>;
}
