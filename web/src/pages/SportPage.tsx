// One sport's live and upcoming events (route /sports/:sport), their main prices live.
import { Link, useParams } from "react-router";
import { api, ok } from "../api/client";
import { describe } from "../api/messages";
import { EventList } from "../components/EventRow";
import { useApi } from "../components/useApi";
import "./Home.css";

export function SportPage() {
  const { sport = "" } = useParams();
  const sports = useApi(() => ok(api.GET("/api/v1/sports")), []);
  const events = useApi(
    () => ok(api.GET("/api/v1/events", { params: { query: { sport, limit: 100 } } })),
    [sport],
    20_000,
  );
  const name = sports.data?.items.find((s) => s.key === sport)?.name ?? sport;
  const items = events.data?.items ?? [];
  const live = items.filter((e) => e.status === "live");
  const upcoming = items.filter((e) => e.status !== "live");
  return (
    <div className="sport">
      <p className="crumbs">
        <Link to="/">Sports</Link> › {name}
      </p>
      <h1>{name}</h1>
      {events.error && <p className="error" role="alert">{describe(events.error)}</p>}
      {!events.data && !events.error && <p className="loading">Loading…</p>}
      {events.data && items.length === 0 && <p className="notice">No {name} events right now.</p>}
      {live.length > 0 && (
        <section aria-labelledby="sport-live-h">
          <h2 id="sport-live-h">Live now</h2>
          <EventList events={live} label={`Live ${name} events`} />
        </section>
      )}
      {upcoming.length > 0 && (
        <section aria-labelledby="sport-up-h">
          <h2 id="sport-up-h">Upcoming</h2>
          <EventList events={upcoming} label={`Upcoming ${name} events`} />
        </section>
      )}
    </div>
  );
}
