// One event for traders: its status and score, its markets with prices to edit, suspend or resume, and the
// settlement tools (result the event, settle or roll back a market, non-runners, bet cancellations).
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, ok, type Schemas } from "../api/client";
import { ActionStatus, ErrorNote, Loading, formatTime, useAction, useLoad } from "./common";
import { JobCard, type Job } from "./jobs";
import { marketLabel } from "./labels";
import { parseOdds } from "./odds";

type AdminEvent = Schemas["AdminEventOut"];
type AdminMarket = Schemas["AdminMarketOut"];
type Tracked = { job: Job; label: string };
type EventStatus = "upcoming" | "live" | "ended" | "cancelled";

export function EventDetail() {
  const { eventId = "" } = useParams();
  const event = useLoad(
    () => ok(api.GET("/api/v1/admin/events/{event_id}", { params: { path: { event_id: eventId } } })),
    [eventId],
  );
  const [jobs, setJobs] = useState<Tracked[]>([]);
  const [marketFilter, setMarketFilter] = useState("");
  const track = (job: Job, label: string) => setJobs((all) => [{ job, label }, ...all.filter((t) => t.job.id !== job.id)]);

  const { reload: reloadEvent } = event;

  if (event.data === null) {
    return (
      <section>
        <p>
          <Link to="../trading">← Events</Link>
        </p>
        <Loading loaded={event} what="the event" />
      </section>
    );
  }
  const e = event.data;
  const labelOf = (marketId: string) => {
    const m = e.markets.find((x) => x.id === marketId);
    return m ? marketLabel(m.type, m.specifiers) : marketId;
  };
  return (
    <section aria-labelledby="event-title">
      <p>
        <Link to="../trading">← Events</Link>
      </p>
      <h1 id="event-title">{e.name}</h1>
      <p className="adm-muted">
        {e.sport}
        {e.competition ? ` · ${e.competition}` : ""} · starts {formatTime(e.start_time)} · status <strong>{e.status}</strong>
        {e.score ? ` · score ${e.score.home}–${e.score.away}` : ""}
      </p>
      <ErrorNote error={event.error} />
      <div className="adm-cols">
        <EventForm event={e} onChange={(next) => event.setData(next)} />
        <ResultForm event={e} onJobs={(items) => items.forEach((j) => track(j, labelOf(j.market_id)))} />
      </div>
      {jobs.length > 0 && (
        <section aria-labelledby="jobs-title" className="adm-panel">
          <h2 id="jobs-title">Settlement jobs</h2>
          <ul className="adm-jobs">
            {jobs.map((t) => (
              <JobCard key={t.job.id} job={t.job} label={t.label} onFinished={reloadEvent} />
            ))}
          </ul>
        </section>
      )}
      <h2>Markets</h2>
      {e.markets.length === 0 && <p>This event has no markets.</p>}
      {e.markets.length > 3 && (
        <label className="adm-filter">
          Filter markets (type or line)
          <input type="search" value={marketFilter} onChange={(ev) => setMarketFilter(ev.target.value)} />
        </label>
      )}
      {e.markets
        .filter((m) => marketLabel(m.type, m.specifiers).toLowerCase().includes(marketFilter.trim().toLowerCase()))
        .map((m) => (
        <MarketPanel
          key={m.id}
          market={m}
          onChange={(next) => event.setData({ ...e, markets: e.markets.map((x) => (x.id === next.id ? next : x)) })}
          onJob={(job) => {
            track(job, marketLabel(m.type, m.specifiers));
            void event.reload();
          }}
          reload={event.reload}
        />
      ))}
    </section>
  );
}

function ScoreInputs({ prefix, home, away, setHome, setAway }: {
  prefix: string;
  home: string;
  away: string;
  setHome: (v: string) => void;
  setAway: (v: string) => void;
}) {
  return (
    <>
      <label>
        {prefix} home score
        <input type="number" min={0} step={1} inputMode="numeric" value={home} onChange={(e) => setHome(e.target.value)} />
      </label>
      <label>
        {prefix} away score
        <input type="number" min={0} step={1} inputMode="numeric" value={away} onChange={(e) => setAway(e.target.value)} />
      </label>
    </>
  );
}

function score(home: string, away: string): { home: number; away: number } | null {
  if (!/^\d{1,3}$/.test(home.trim()) || !/^\d{1,3}$/.test(away.trim())) return null;
  return { home: Number(home), away: Number(away) };
}

function EventForm({ event, onChange }: { event: AdminEvent; onChange: (e: AdminEvent) => void }) {
  const [status, setStatus] = useState<EventStatus>(event.status as EventStatus);
  const [home, setHome] = useState(String(event.score?.home ?? ""));
  const [away, setAway] = useState(String(event.score?.away ?? ""));
  const action = useAction();
  async function submit(ev: FormEvent) {
    ev.preventDefault();
    const body: Schemas["EventPatch"] = {};
    if (status !== event.status) body.status = status;
    if (home !== "" || away !== "") {
      const s = score(home, away);
      if (s === null) {
        await action.run(async () => {
          throw new Error("A score is two whole numbers from 0.");
        });
        return;
      }
      if (s.home !== event.score?.home || s.away !== event.score?.away) body.score = s;
    }
    await action.run(async () => {
      const next = await ok(
        api.PATCH("/api/v1/admin/events/{event_id}", { params: { path: { event_id: event.id } }, body }),
      );
      onChange(next);
      return "Event updated.";
    });
  }
  return (
    <form className="adm-panel adm-form" onSubmit={(e) => void submit(e)} aria-labelledby="event-form-title">
      <h2 id="event-form-title">Status and score</h2>
      <label>
        Event status
        <select value={status} onChange={(e) => setStatus(e.target.value as EventStatus)}>
          {(["upcoming", "live", "ended", "cancelled"] as const).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <ScoreInputs prefix="Current" home={home} away={away} setHome={setHome} setAway={setAway} />
      <button type="submit" disabled={action.busy}>
        Update event
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function ResultForm({ event, onJobs }: { event: AdminEvent; onJobs: (jobs: Job[]) => void }) {
  const [home, setHome] = useState(String(event.score?.home ?? ""));
  const [away, setAway] = useState(String(event.score?.away ?? ""));
  const action = useAction();
  async function submit(ev: FormEvent) {
    ev.preventDefault();
    await action.run(async (key) => {
      const s = score(home, away);
      if (s === null) throw new Error("A final score is two whole numbers from 0.");
      const answer = await ok(
        api.POST("/api/v1/admin/events/{event_id}/result", {
          params: { path: { event_id: event.id }, header: { "idempotency-key": key } },
          body: { score: s },
        }),
      );
      onJobs(answer.items);
      return `Resulting ${answer.items.length} market(s) at ${s.home}–${s.away}.`;
    });
  }
  return (
    <form className="adm-panel adm-form" onSubmit={(e) => void submit(e)} aria-labelledby="result-title">
      <h2 id="result-title">Result the event</h2>
      <p className="adm-muted">Settles every score-based market of the event with the final score.</p>
      <ScoreInputs prefix="Final" home={home} away={away} setHome={setHome} setAway={setAway} />
      <button type="submit" disabled={action.busy}>
        Result event
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function MarketPanel({
  market,
  onChange,
  onJob,
  reload,
}: {
  market: AdminMarket;
  onChange: (m: AdminMarket) => void;
  onJob: (job: Job) => void;
  reload: () => Promise<void>;
}) {
  const label = marketLabel(market.type, market.specifiers);
  const [prices, setPrices] = useState<Record<string, string>>({});
  const action = useAction();
  const patch = (body: Schemas["MarketPatch"], done: string) =>
    action.run(async () => {
      const next = await ok(
        api.PATCH("/api/v1/admin/markets/{market_id}", { params: { path: { market_id: market.id } }, body }),
      );
      onChange(next);
      return done;
    });

  async function savePrices(ev: FormEvent) {
    ev.preventDefault();
    const changed: { id: string; odds: string }[] = [];
    for (const s of market.selections) {
      const typed = prices[s.id]?.trim();
      if (!typed) continue;
      const odds = parseOdds(typed);
      if (odds === null) {
        await action.run(async () => {
          throw new Error(`The odds for ${s.name} are not valid: a decimal from 1.01 to 1001, two decimals at most.`);
        });
        return;
      }
      if (odds !== s.odds) changed.push({ id: s.id, odds });
    }
    if (changed.length === 0) {
      await action.run(async () => "No price changed.");
      return;
    }
    if (await patch({ selections: changed }, `Prices of ${label} saved.`)) setPrices({});
  }

  const open = market.status === "active" || market.status === "suspended";
  return (
    <section className="adm-panel adm-market" aria-labelledby={`market-${market.id}`}>
      <header className="adm-market-head">
        <h3 id={`market-${market.id}`}>{label}</h3>
        <span className={`adm-badge adm-badge-${market.status}`}>{market.status}</span>
        {market.trader_override && <span className="adm-badge">held by trader</span>}
        {market.status === "active" && (
          <button type="button" aria-label={`Suspend ${label}`} disabled={action.busy} onClick={() => void patch({ status: "suspended" }, `${label} suspended.`)}>
            Suspend
          </button>
        )}
        {market.status === "suspended" && (
          <button type="button" aria-label={`Resume ${label}`} disabled={action.busy} onClick={() => void patch({ status: "active" }, `${label} resumed.`)}>
            Resume
          </button>
        )}
        {market.trader_override && (
          <button
            type="button"
            aria-label={`Release ${label} to the feed`}
            disabled={action.busy}
            onClick={() => void patch({ trader_override: false }, `${label} released to the odds feed.`)}
          >
            Release to feed
          </button>
        )}
      </header>
      <form onSubmit={(e) => void savePrices(e)}>
        <table className="adm-small">
          <caption className="adm-sr">Prices of {label}</caption>
          <thead>
            <tr>
              <th scope="col">Selection</th>
              <th scope="col">Status</th>
              <th scope="col">Odds</th>
              <th scope="col">New odds</th>
            </tr>
          </thead>
          <tbody>
            {market.selections.map((s) => (
              <tr key={s.id}>
                <th scope="row">{s.name}</th>
                <td>{s.status}</td>
                <td>{s.odds}</td>
                <td>
                  <input
                    aria-label={`New odds for ${s.name} (${label})`}
                    inputMode="decimal"
                    size={7}
                    placeholder={s.odds}
                    disabled={!open}
                    value={prices[s.id] ?? ""}
                    onChange={(e) => setPrices({ ...prices, [s.id]: e.target.value })}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {open && (
          <button type="submit" aria-label={`Save prices of ${label}`} disabled={action.busy}>
            Save prices
          </button>
        )}
      </form>
      <ActionStatus action={action} />
      <SettleForm market={market} label={label} onJob={onJob} />
      <RollbackButton market={market} label={label} onJob={onJob} />
      <NonRunnerForm market={market} label={label} reload={reload} />
      <BetCancelForm market={market} label={label} onJob={onJob} />
    </section>
  );
}

const RESULTS = ["won", "placed", "lost", "void"] as const;
type Result = (typeof RESULTS)[number];

function SettleForm({ market, label, onJob }: { market: AdminMarket; label: string; onJob: (j: Job) => void }) {
  const [results, setResults] = useState<Record<string, Result>>({});
  const action = useAction();
  async function submit(ev: FormEvent) {
    ev.preventDefault();
    await action.run(async (key) => {
      const outcomes = market.selections.map((s) => ({ selection_id: s.id, result: results[s.id] ?? "lost" }));
      const job = await ok(
        api.POST("/api/v1/admin/markets/{market_id}/settlement", {
          params: { path: { market_id: market.id }, header: { "idempotency-key": key } },
          body: { outcomes },
        }),
      );
      onJob(job);
      return `Settlement of ${label} queued.`;
    });
  }
  return (
    <details className="adm-details">
      <summary>Settle {label} by hand</summary>
      <form onSubmit={(e) => void submit(e)} className="adm-form">
        <fieldset>
          <legend>Result of each selection</legend>
          {market.selections.map((s) => (
            <label key={s.id}>
              {s.name}
              <select
                aria-label={`Result of ${s.name} (${label})`}
                value={results[s.id] ?? "lost"}
                onChange={(e) => setResults({ ...results, [s.id]: e.target.value as Result })}>
                {RESULTS.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </label>
          ))}
        </fieldset>
        <button type="submit" aria-label={`Settle ${label}`} disabled={action.busy}>
          Settle
        </button>
        <ActionStatus action={action} />
      </form>
    </details>
  );
}

function RollbackButton({ market, label, onJob }: { market: AdminMarket; label: string; onJob: (j: Job) => void }) {
  const action = useAction();
  if (market.status !== "settled" && market.status !== "cancelled") return null;
  return (
    <div>
      <button
        type="button"
        aria-label={`Roll back settlement of ${label}`}
        disabled={action.busy}
        onClick={() =>
          void action.run(async (key) => {
            const job = await ok(
              api.DELETE("/api/v1/admin/markets/{market_id}/settlement", {
                params: { path: { market_id: market.id }, header: { "idempotency-key": key } },
              }),
            );
            onJob(job);
            return `Rollback of ${label} queued.`;
          })
        }
      >
        Roll back settlement
      </button>
      <ActionStatus action={action} />
    </div>
  );
}

function NonRunnerForm({ market, label, reload }: { market: AdminMarket; label: string; reload: () => Promise<void> }) {
  const [selection, setSelection] = useState(market.selections[0]?.id ?? "");
  const [odds, setOdds] = useState("");
  const action = useAction();
  async function submit(ev: FormEvent) {
    ev.preventDefault();
    await action.run(async () => {
      const parsed = parseOdds(odds);
      if (parsed === null) throw new Error("Odds at withdrawal must be a decimal from 1.01 to 1001.");
      const answer = await ok(
        api.POST("/api/v1/admin/markets/{market_id}/non-runners", {
          params: { path: { market_id: market.id } },
          body: { selection_id: selection, odds_at_withdrawal: parsed },
        }),
      );
      await reload();
      return `Non-runner declared; Rule 4 deduction ${answer.rule4_deduction}.`;
    });
  }
  return (
    <details className="adm-details">
      <summary>Non-runner in {label}</summary>
      <form onSubmit={(e) => void submit(e)} className="adm-form">
        <label>
          Runner
          <select value={selection} onChange={(e) => setSelection(e.target.value)}>
            {market.selections.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Odds at withdrawal
          <input inputMode="decimal" value={odds} onChange={(e) => setOdds(e.target.value)} />
        </label>
        <button type="submit" aria-label={`Declare non-runner in ${label}`} disabled={action.busy}>
          Declare non-runner
        </button>
        <ActionStatus action={action} />
      </form>
    </details>
  );
}

function BetCancelForm({ market, label, onJob }: { market: AdminMarket; label: string; onJob: (j: Job) => void }) {
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const action = useAction();
  async function submit(ev: FormEvent) {
    ev.preventDefault();
    await action.run(async (key) => {
      const from = new Date(start);
      const to = new Date(end);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to <= from) {
        throw new Error("Give a start and a later end.");
      }
      const job = await ok(
        api.POST("/api/v1/admin/markets/{market_id}/bet-cancellations", {
          params: { path: { market_id: market.id }, header: { "idempotency-key": key } },
          body: { start: from.toISOString(), end: to.toISOString() },
        }),
      );
      onJob(job);
      return `Bet cancellation on ${label} queued.`;
    });
  }
  return (
    <details className="adm-details">
      <summary>Cancel bets on {label}</summary>
      <form onSubmit={(e) => void submit(e)} className="adm-form">
        <label>
          Placed from (your local time)
          <input type="datetime-local" step={1} required value={start} onChange={(e) => setStart(e.target.value)} />
        </label>
        <label>
          Until (not included)
          <input type="datetime-local" step={1} required value={end} onChange={(e) => setEnd(e.target.value)} />
        </label>
        <button type="submit" aria-label={`Cancel bets on ${label}`} disabled={action.busy}>
          Cancel bets
        </button>
        <ActionStatus action={action} />
      </form>
    </details>
  );
}
