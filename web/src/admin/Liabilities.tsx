// Liabilities: what each market and selection of an event could cost the house, against its limit.
import { useMemo, useState } from "react";
import { api, ok } from "../api/client";
import { Loading, useLoad } from "./common";
import { DataGrid, gridColumns } from "./grid";
import { marketLabel, minorUnits } from "./labels";

// The route answers a plain object (no schema of its own): its shape, as src/sportsbook/betting/routes.py builds it.
type SelectionLiability = { selection_id: string; outcome: string; exposure: number; limit: number };
type MarketLiability = { market_id: string; type: string; exposure: number; limit: number; selections: SelectionLiability[] };
type EventLiability = { event_id: string; markets: MarketLiability[] };

type Row = { key: string; market: string; selection: string; exposure: number; limit: number; share: number };

const col = gridColumns<Row>();
const columns = col.columns([
  col.accessor("market", { header: "Market" }),
  col.accessor("selection", { header: "Selection" }),
  col.accessor("exposure", { header: "Exposure", cell: (i) => minorUnits(i.getValue()) }),
  col.accessor("limit", { header: "Limit", cell: (i) => minorUnits(i.getValue()) }),
  col.accessor("share", {
    header: "Used",
    cell: (i) => (
      <span className="adm-use">
        <meter min={0} max={1} low={0.6} high={0.85} optimum={0} value={Math.min(i.getValue(), 1)} aria-label={`Limit used by ${i.row.original.market} ${i.row.original.selection}`} />
        {(i.getValue() * 100).toFixed(0)} %
      </span>
    ),
  }),
]);

export function Liabilities() {
  const events = useLoad(async () => {
    const [live, upcoming] = await Promise.all([
      ok(api.GET("/api/v1/events", { params: { query: { status: "live", limit: 200 } } })),
      ok(api.GET("/api/v1/events", { params: { query: { status: "upcoming", limit: 200 } } })),
    ]);
    return [...live.items, ...upcoming.items];
  }, []);
  const [chosen, setChosen] = useState("");
  const eventId = chosen || events.data?.[0]?.id || "";
  const event = events.data?.find((e) => e.id === eventId);
  const book = useLoad(async () => {
    if (!eventId) return null;
    const answer = await ok(api.GET("/api/v1/admin/liabilities", { params: { query: { event_id: eventId } } }));
    return answer as unknown as EventLiability;
  }, [eventId]);
  const rows = useMemo<Row[]>(() => {
    if (!book.data || !event) return [];
    const names = new Map(event.markets.flatMap((m) => m.selections.map((s) => [s.id, s.name] as const)));
    const labels = new Map(event.markets.map((m) => [m.id, marketLabel(m.type, m.specifiers)] as const));
    return book.data.markets.flatMap((m) =>
      m.selections.map((s) => ({
        key: s.selection_id,
        market: labels.get(m.market_id) ?? m.type,
        selection: names.get(s.selection_id) ?? s.outcome,
        exposure: s.exposure,
        limit: s.limit,
        share: s.limit > 0 ? s.exposure / s.limit : 0,
      })),
    );
  }, [book.data, event]);
  const total = book.data?.markets.reduce((sum, m) => sum + m.exposure, 0) ?? 0;
  return (
    <section aria-labelledby="liab-title">
      <h1 id="liab-title">Liabilities</h1>
      <Loading loaded={events} what="events" />
      <label className="adm-inline">
        Event
        <select value={eventId} onChange={(e) => setChosen(e.target.value)}>
          {(events.data ?? []).map((e) => (
            <option key={e.id} value={e.id}>
              {e.name} ({e.status})
            </option>
          ))}
        </select>
      </label>
      <Loading loaded={book} what="liabilities" />
      {book.data && (
        <>
          <p>
            Worst case over the event's markets: <strong>{minorUnits(total)}</strong> (minor units of the book's currency).
          </p>
          <table className="adm-small">
            <caption>By market</caption>
            <thead>
              <tr>
                <th scope="col">Market</th>
                <th scope="col">Exposure</th>
                <th scope="col">Limit</th>
              </tr>
            </thead>
            <tbody>
              {book.data.markets.map((m) => {
                const mk = event?.markets.find((x) => x.id === m.market_id);
                return (
                  <tr key={m.market_id}>
                    <th scope="row">{mk ? marketLabel(mk.type, mk.specifiers) : m.type}</th>
                    <td>{minorUnits(m.exposure)}</td>
                    <td>{minorUnits(m.limit)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <DataGrid caption="By selection" columns={columns} data={rows} filter getRowId={(r) => r.key} />
        </>
      )}
    </section>
  );
}
