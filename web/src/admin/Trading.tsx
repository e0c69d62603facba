// Trading: the events, live, upcoming or ended; each opens its markets for pricing and settlement.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { api, ok, type Schemas } from "../api/client";
import { Loading, formatTime, useLoad } from "./common";
import { DataGrid, gridColumns } from "./grid";

type EventRow = Schemas["EventOut"];
type Status = "live" | "upcoming" | "ended";

const col = gridColumns<EventRow>();
const columns = col.columns([
  col.accessor("name", {
    header: "Event",
    cell: (info) => <Link to={`events/${info.row.original.id}`}>{info.getValue()}</Link>,
  }),
  col.accessor("sport", { header: "Sport" }),
  col.accessor("start_time", { header: "Start", cell: (info) => formatTime(info.getValue()) }),
  col.accessor("status", { header: "Status" }),
  col.accessor((e) => (e.score ? `${e.score.home}–${e.score.away}` : ""), { id: "score", header: "Score" }),
  col.accessor((e) => e.markets.length, { id: "markets", header: "Markets" }),
]);

export function Trading() {
  const [status, setStatus] = useState<Status>("live");
  const events = useLoad(
    async () => (await ok(api.GET("/api/v1/events", { params: { query: { status, limit: 200 } } }))).items,
    [status],
  );
  const rows = useMemo(() => events.data ?? [], [events.data]);
  return (
    <section aria-labelledby="trading-title">
      <h1 id="trading-title">Trading</h1>
      <fieldset className="adm-segmented">
        <legend>Events</legend>
        {(["live", "upcoming", "ended"] as const).map((s) => (
          <label key={s}>
            <input type="radio" name="event-status" value={s} checked={status === s} onChange={() => setStatus(s)} />
            {s[0]?.toUpperCase() + s.slice(1)}
          </label>
        ))}
      </fieldset>
      <Loading loaded={events} what="events" />
      <DataGrid caption={`${status[0]?.toUpperCase()}${status.slice(1)} events`} columns={columns} data={rows} filter getRowId={(e) => e.id} />
    </section>
  );
}
