// One price: a toggle button that adds its selection to the slip. It reads only its own selection from the live
// store, so a price change re-renders this button alone; a move flashes up (green) or down (red) for a second.
import { memo, useEffect, useState } from "react";
import { useOddsFormat } from "../odds/format";
import { useSelection } from "../odds/live";
import type { EachWay } from "../odds/store";
import { useSlip } from "../slip/context";
import "./prices.css";

const FLASH_MS = 1000;

export type PriceContext = {
  eventId: string;
  eventName: string;
  marketId: string;
  marketName: string;
  eachWay: EachWay | null;
  marketOpen: boolean;
};

export const PriceButton = memo(function PriceButton({
  selectionId,
  ctx,
  showName = true,
}: {
  selectionId: string;
  ctx: PriceContext;
  showName?: boolean;
}) {
  const sel = useSelection(selectionId);
  const { show } = useOddsFormat();
  const slip = useSlip();
  const [flash, setFlash] = useState<"up" | "down" | null>(null);
  const movedAt = sel?.movedAt ?? 0;
  const direction = sel?.direction ?? null;
  useEffect(() => {
    const left = movedAt + FLASH_MS - Date.now();
    if (movedAt === 0 || left <= 0 || direction === null) return;
    setFlash(direction);
    const t = setTimeout(() => setFlash(null), left);
    return () => clearTimeout(t);
  }, [movedAt, direction]);
  if (sel === undefined) return null;
  const open = ctx.marketOpen && sel.status === "active";
  const pressed = slip.has(selectionId);
  const odds = show(sel.odds);
  return (
    <button
      type="button"
      className={`price${flash ? ` ${flash}` : ""}`}
      aria-pressed={pressed}
      disabled={!open && !pressed}
      onClick={() =>
        slip.toggle({
          selectionId,
          marketId: ctx.marketId,
          eventId: ctx.eventId,
          eventName: ctx.eventName,
          marketName: ctx.marketName,
          selectionName: sel.name,
          odds: sel.odds,
          eachWay: ctx.eachWay,
        })
      }
    >
      {showName ? (
        <>
          <span className="sel-name">{sel.name}</span> <span className="sel-odds">{open ? odds : "–"}</span>
        </>
      ) : (
        <>
          <span className="visually-hidden">{sel.name} </span>
          <span className="sel-odds">{open ? odds : "–"}</span>
        </>
      )}
      {flash && open && <span className="visually-hidden">{flash === "up" ? " (odds up)" : " (odds down)"}</span>}
    </button>
  );
});
