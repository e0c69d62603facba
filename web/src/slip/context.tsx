// The bet slip's selections: added and removed from price buttons (a toggle), kept in sessionStorage so a
// reload keeps the slip for the tab's life.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import type { EachWay } from "../odds/store";

export type SlipLeg = {
  selectionId: string;
  marketId: string;
  eventId: string;
  eventName: string;
  marketName: string;
  selectionName: string;
  /** the decimal odds when the leg was added (the live price replaces it on screen while it is known) */
  odds: string;
  eachWay: EachWay | null;
};

type Slip = {
  legs: readonly SlipLeg[];
  has: (selectionId: string) => boolean;
  toggle: (leg: SlipLeg) => void;
  remove: (selectionId: string) => void;
  clear: () => void;
};

const KEY = "sportsbook.slip";

function isLeg(x: unknown): x is SlipLeg {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o.selectionId === "string" &&
    typeof o.marketId === "string" &&
    typeof o.eventId === "string" &&
    typeof o.odds === "string" &&
    typeof o.selectionName === "string"
  );
}

function load(): SlipLeg[] {
  try {
    const raw: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? "[]");
    return Array.isArray(raw) ? raw.filter(isLeg) : [];
  } catch {
    return [];
  }
}

const SlipContext = createContext<Slip | null>(null);

export function SlipProvider({ children }: { children: ReactNode }) {
  const [legs, setLegs] = useState<SlipLeg[]>(load);
  useEffect(() => {
    try {
      sessionStorage.setItem(KEY, JSON.stringify(legs));
    } catch {
      // storage full or disabled: the slip lasts as long as the page
    }
  }, [legs]);
  const toggle = useCallback((leg: SlipLeg) => {
    setLegs((now) =>
      now.some((l) => l.selectionId === leg.selectionId)
        ? now.filter((l) => l.selectionId !== leg.selectionId)
        : [...now, leg],
    );
  }, []);
  const remove = useCallback((id: string) => setLegs((now) => now.filter((l) => l.selectionId !== id)), []);
  const clear = useCallback(() => setLegs([]), []);
  const value = useMemo(() => {
    const ids = new Set(legs.map((l) => l.selectionId));
    return { legs, has: (id: string) => ids.has(id), toggle, remove, clear };
  }, [legs, toggle, remove, clear]);
  return <SlipContext.Provider value={value}>{children}</SlipContext.Provider>;
}

export function useSlip(): Slip {
  const slip = useContext(SlipContext);
  if (slip === null) throw new Error("useSlip outside SlipProvider");
  return slip;
}
