// The player's odds format (decimal, fractional, American): chosen in the header, remembered in localStorage,
// applied to every price on screen.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { ODDS_FORMATS, formatOdds, isOddsFormat, type OddsFormat } from "./convert";

export { formatOdds, ODDS_FORMATS, type OddsFormat } from "./convert";
import "../components/prices.css";

const KEY = "sportsbook.oddsFormat";

function saved(): OddsFormat {
  try {
    const value = localStorage.getItem(KEY);
    return isOddsFormat(value) ? value : "decimal";
  } catch {
    return "decimal";
  }
}

type Ctx = { format: OddsFormat; setFormat: (f: OddsFormat) => void; show: (decimal: string) => string };

const OddsFormatContext = createContext<Ctx>({
  format: "decimal",
  setFormat: () => undefined,
  show: (d) => d,
});

export function OddsFormatProvider({ children }: { children: ReactNode }) {
  const [format, setState] = useState<OddsFormat>(saved);
  const setFormat = useCallback((f: OddsFormat) => {
    setState(f);
    try {
      localStorage.setItem(KEY, f);
    } catch {
      // private mode: the choice lasts as long as the page
    }
  }, []);
  const value = useMemo(
    () => ({ format, setFormat, show: (decimal: string) => formatOdds(decimal, format) }),
    [format, setFormat],
  );
  return <OddsFormatContext.Provider value={value}>{children}</OddsFormatContext.Provider>;
}

export function useOddsFormat(): Ctx {
  return useContext(OddsFormatContext);
}

export function OddsFormatPicker() {
  const { format, setFormat } = useOddsFormat();
  return (
    <span className="odds-format">
      <label htmlFor="odds-format" className="odds-format-label">
        Odds
      </label>
      <select
        id="odds-format"
        value={format}
        onChange={(e) => {
          if (isOddsFormat(e.target.value)) setFormat(e.target.value);
        }}
      >
        {ODDS_FORMATS.map((f) => (
          <option key={f.value} value={f.value}>
            {f.label}
          </option>
        ))}
      </select>
    </span>
  );
}
