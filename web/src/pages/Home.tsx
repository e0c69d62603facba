// The player's home: sports, live events (LIVE, score) and upcoming events, their main prices live.
import { Link } from "react-router";
import { api, ok } from "../api/client";
import { describe } from "../api/messages";
import { EventList } from "../components/EventRow";
import { useApi } from "../components/useApi";
import "./Home.css";

export function SportsNav() {
  const sports = useApi(() => ok(api.GET("/api/v1/sports")), [], 60_000);
  if (sports.error && !sports.data) return <p className="error" role="alert">{describe(sports.error)}</p>;
  if (!sports.data) return <p className="loading">Loading sports…</p>;
  return (
    <nav aria-label="Sports" className="sports-nav">
      <ul>
        {sports.data.items.map((s) => (
          <li key={s.key}>
            <Link to={`/sports/${encodeURIComponent(s.key)}`}>
              {s.name}
              <span className="muted counts">
                {s.live > 0 ? ` ${s.live} live ·` : ""} {s.upcoming} upcoming
              </span>
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function Home() {
  const live = useApi(() => ok(api.GET("/api/v1/events", { params: { query: { status: "live", limit: 50 } } })), [], 20_000);
  const upcoming = useApi(
    () => ok(api.GET("/api/v1/events", { params: { query: { status: "upcoming", limit: 30 } } })),
    [],
    60_000,
  );
  return (
    <div className="home">
      <h1>Sports</h1>
      <SportsNav />
      <section aria-labelledby="live-h">
        <h2 id="live-h">Live now</h2>
        {live.error && <p className="error" role="alert">{describe(live.error)}</p>}
        {live.data ? <EventList events={live.data.items} label="Live events" /> : !live.error && <p className="loading">Loading…</p>}
      </section>
      <section aria-labelledby="upcoming-h">
        <h2 id="upcoming-h">Starting soon</h2>
        {upcoming.error && <p className="error" role="alert">{describe(upcoming.error)}</p>}
        {upcoming.data ? (
          <EventList events={upcoming.data.items} label="Upcoming events" />
        ) : (
          !upcoming.error && <p className="loading">Loading…</p>
        )}
      </section>
    </div>
  );
}
