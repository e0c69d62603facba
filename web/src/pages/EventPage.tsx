// One event (route /events/:eventId): competitors, status and score, then every market with its prices live.
// Long market lists are virtualised against the window's scroll: only the markets on screen are mounted.
import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { useLayoutEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { api, ok } from "../api/client";
import { describe } from "../api/messages";
import { EventStatus, startText, type EventOut } from "../components/EventRow";
import { MarketCard } from "../components/MarketCard";
import { useApi } from "../components/useApi";
import { useEventMarkets, useLiveEvent } from "../odds/live";
import "./EventPage.css";

function Markets({ event }: { event: EventOut }) {
  const live = useEventMarkets(event.id);
  const ids = live ?? event.markets.map((m) => m.id);
  const listRef = useRef<HTMLDivElement>(null);
  const [offset, setOffset] = useState(0);
  useLayoutEffect(() => {
    setOffset(listRef.current?.offsetTop ?? 0);
  }, []);
  const virtualizer = useWindowVirtualizer({
    count: ids.length,
    estimateSize: () => 120,
    overscan: 6,
    scrollMargin: offset,
    getItemKey: (i) => ids[i] ?? i,
  });
  if (ids.length === 0) return <p className="notice">No markets are open on this event.</p>;
  const items = virtualizer.getVirtualItems();
  return (
    <div ref={listRef} className="markets" style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
      {items.map((row) => {
        const id = ids[row.index];
        if (id === undefined) return null;
        return (
          <div
            key={row.key}
            data-index={row.index}
            ref={virtualizer.measureElement}
            className="market-slot"
            style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${row.start - offset}px)` }}
          >
            <MarketCard marketId={id} eventId={event.id} eventName={event.name} />
          </div>
        );
      })}
    </div>
  );
}

export function EventPage() {
  const { eventId = "" } = useParams();
  const answer = useApi(
    () => ok(api.GET("/api/v1/events/{event_id}", { params: { path: { event_id: eventId } } })),
    [eventId],
    15_000,
  );
  const event = answer.data;
  useLiveEvent(event?.id, event?.markets);
  if (answer.error && !event) {
    return (
      <div>
        <p className="error" role="alert">{describe(answer.error)}</p>
        <Link to="/">Back to sports</Link>
      </div>
    );
  }
  if (!event) return <p className="loading">Loading…</p>;
  const [home, away] = event.competitors ?? [];
  return (
    <article className="event-page">
      <p className="crumbs">
        <Link to="/">Sports</Link> › <Link to={`/sports/${encodeURIComponent(event.sport)}`}>{event.sport.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase())}</Link>
        {event.competition && <> › {event.competition}</>}
      </p>
      <header className="event-head panel">
        {home !== undefined && away !== undefined ? (
          <h1 className="competitors">
            <span>{home}</span>
            {event.score ? (
              <span className="big-score" aria-label={`${event.score.home} to ${event.score.away}`}>
                {event.score.home} – {event.score.away}
              </span>
            ) : (
              <span className="vs">v</span>
            )}
            <span>{away}</span>
          </h1>
        ) : (
          <h1>{event.name}</h1>
        )}
        <div className="event-meta">
          <EventStatus event={event} />
          {event.status === "live" && <span className="muted"> · started {startText(event.start_time)}</span>}
          {event.runners && <span className="muted"> · {event.runners.length} runners</span>}
        </div>
        {answer.error && <p className="error" role="alert">{describe(answer.error)}</p>}
      </header>
      <Markets event={event} />
    </article>
  );
}
