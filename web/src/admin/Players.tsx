// Players: find a player by part of their email or their id.
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api, ok, type Schemas } from "../api/client";
import { ErrorNote, formatTime } from "./common";
import { DataGrid, gridColumns } from "./grid";

type PlayerRow = Schemas["StaffPlayerOut"];

const col = gridColumns<PlayerRow>();
const columns = col.columns([
  col.accessor("email", { header: "Email", cell: (i) => <Link to={i.row.original.id}>{i.getValue()}</Link> }),
  col.accessor("country", { header: "Country" }),
  col.accessor("currency", { header: "Currency" }),
  col.accessor("kyc_status", { header: "KYC" }),
  col.accessor("created_at", { header: "Registered", cell: (i) => formatTime(i.getValue()) }),
]);

export function Players() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [text, setText] = useState(q);
  const [rows, setRows] = useState<PlayerRow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function fetchPage(after: string | null, replace: boolean) {
    setBusy(true);
    setError(null);
    try {
      const page = await ok(
        api.GET("/api/v1/admin/players", {
          params: { query: { q: q || undefined, limit: 50, cursor: after ?? undefined } },
        }),
      );
      setRows((old) => (replace ? page.items : [...old, ...page.items]));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    void fetchPage(null, true);
  }, [q]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setParams(text.trim() ? { q: text.trim() } : {});
  }

  return (
    <section aria-labelledby="players-title">
      <h1 id="players-title">Players</h1>
      <form role="search" onSubmit={submit} className="adm-inline">
        <label>
          Email or player id
          <input type="search" value={text} maxLength={320} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      <ErrorNote error={error} />
      <DataGrid
        caption={q ? `Players matching “${q}”` : "Newest players"}
        columns={columns}
        data={rows}
        getRowId={(p) => p.id}
        empty={busy ? "Searching…" : "No player matches."}
      />
      {cursor !== null && (
        <button type="button" disabled={busy} onClick={() => void fetchPage(cursor, false)}>
          Load more players
        </button>
      )}
    </section>
  );
}
