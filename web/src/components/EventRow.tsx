// An event in a list: name, LIVE and score or start time, and its main market's prices, live.
import { memo } from "react";
import { Link } from "react-router";
import type { Schemas } from "../api/client";
import { useLiveEvent, useMarket } from "../odds/live";
import { marketName } from "../odds/markets";
import { PriceButton } from "./PriceButton";

export type EventOut = Schemas["EventOut"];

export function startText(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

export function EventStatus({ event }: { event: EventOut }) {
  if (event.status === "live") {
    return (
      <span className="event-status">
        <span className="badge live">LIVE</span>
        {event.score && (
          <span className="score" aria-label={`Score ${event.score.home} to ${event.score.away}`}>
            {event.score.home} – {event.score.away}
          </span>
        )}
      </span>
    );
  }
  if (event.status === "upcoming") {
    return (
      <time className="muted" dateTime={event.start_time}>
        {startText(event.start_time)}
      </time>
    );
  }
  return <span className="badge">{event.status}</span>;
}

function mainMarket(event: EventOut): EventOut["markets"][number] | undefined {
  return event.markets.find((m) => m.type === "1x2") ?? event.markets.find((m) => m.type === "winner") ?? event.markets[0];
}

function MainPrices({ event, marketId }: { event: EventOut; marketId: string }) {
  const market = useMarket(marketId);
  if (market === undefined) return null;
  const open = market.status === "active";
  if (market.selectionIds.length > 3) {
    return (
      <Link to={`/events/${event.id}`} className="more">
        {market.selectionIds.length} runners{open ? "" : " (suspended)"}
      </Link>
    );
  }
  const name = marketName(market.type, market.specifiers);
  return (
    <div className={`prices row-prices${open ? "" : " suspended"}`} role="group" aria-label={`${event.name}: ${name}`}>
      {market.selectionIds.map((id) => (
        <PriceButton
          key={id}
          selectionId={id}
          ctx={{ eventId: event.id, eventName: event.name, marketId, marketName: name, eachWay: market.eachWay, marketOpen: open }}
        />
      ))}
      {!open && <span className="badge status">Suspended</span>}
    </div>
  );
}

export const EventRow = memo(function EventRow({ event }: { event: EventOut }) {
  useLiveEvent(event.id, event.markets);
  const main = mainMarket(event);
  return (
    <li className="event-row">
      <div className="event-info">
        <Link to={`/events/${event.id}`} className="event-name">
          {event.name}
        </Link>
        <div className="event-meta">
          <EventStatus event={event} />
          {event.competition && <span className="muted"> · {event.competition}</span>}
        </div>
      </div>
      {main && <MainPrices event={event} marketId={main.id} />}
    </li>
  );
});

export function EventList({ events, label }: { events: readonly EventOut[]; label: string }) {
  if (events.length === 0) return <p className="muted">No events right now.</p>;
  return (
    <ul className="event-list" aria-label={label}>
      {events.map((e) => (
        <EventRow key={e.id} event={e} />
      ))}
    </ul>
  );
}
