// A market with its selections as price buttons; suspended markets are greyed, labelled and their prices disabled.
import { memo } from "react";
import { useMarket } from "../odds/live";
import { marketName } from "../odds/markets";
import { PriceButton } from "./PriceButton";
import "./prices.css";

export function eachWayText(ew: { fraction: string; places: number }): string {
  return `Each way: ${ew.fraction} odds, ${ew.places} place${ew.places === 1 ? "" : "s"}`;
}

export const MarketCard = memo(function MarketCard({
  marketId,
  eventId,
  eventName,
}: {
  marketId: string;
  eventId: string;
  eventName: string;
}) {
  const market = useMarket(marketId);
  if (market === undefined) return null;
  const name = marketName(market.type, market.specifiers);
  const open = market.status === "active";
  const headingId = `mkt-${marketId}`;
  return (
    <section className={`market panel${open ? "" : " suspended"}`} aria-labelledby={headingId}>
      <div className="market-head">
        <h3 id={headingId}>{name}</h3>
        {!open && <span className="badge status">{market.status === "suspended" ? "Suspended" : market.status}</span>}
        {market.eachWay && <span className="each-way">{eachWayText(market.eachWay)}</span>}
      </div>
      <div className={`prices${market.selectionIds.length > 3 ? " many" : ""}`}>
        {market.selectionIds.map((id) => (
          <PriceButton
            key={id}
            selectionId={id}
            ctx={{ eventId, eventName, marketId, marketName: name, eachWay: market.eachWay, marketOpen: open }}
          />
        ))}
      </div>
    </section>
  );
});
