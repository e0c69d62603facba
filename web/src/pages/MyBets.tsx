// The player's bets: open ones (with their live cash-out) and settled ones, newest first, a page at a time.
// Each leg is named from its event in the catalogue (an event that is gone leaves its ids).
import { useCallback, useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { Link } from "react-router";
import { api, errorText, ok, type Schemas } from "../api/client";
import { describe } from "../api/messages";
import { betStatus, betType, formatDateTime, legResult } from "../components/labels";
import { useOddsFormat } from "../odds/format";
import { marketName } from "../odds/markets";
import { RequireLogin } from "../components/RequireLogin";
import { useWalletChanged } from "../components/walletEvents";
import { formatMoney } from "../money";
import { Cashout } from "./MyBetsCashout";
import "./wallet.css";

type Bet = Schemas["BetOut"];
type Event = Schemas["EventOut"];
type Tab = "open" | "settled";

// Events by id, shared by every bet shown (null: the catalogue no longer has it)
const events = new Map<string, Promise<Event | null>>();

function eventOf(id: string): Promise<Event | null> {
  let found = events.get(id);
  if (found === undefined) {
    found = ok(api.GET("/api/v1/events/{event_id}", { params: { path: { event_id: id } } })).catch(() => {
      events.delete(id); // ask again next time
      return null;
    });
    events.set(id, found);
  }
  return found;
}

const NO_BETS: Bet[] = [];

function useEvents(bets: Bet[]): Map<string, Event> {
  const [known, setKnown] = useState<Map<string, Event>>(new Map());
  useEffect(() => {
    let live = true;
    const ids = [...new Set(bets.flatMap((b) => b.legs.map((l) => l.event_id)))];
    if (ids.length === 0) return;
    void Promise.all(ids.map((id) => eventOf(id))).then((found) => {
      if (!live) return;
      const map = new Map<string, Event>();
      found.forEach((e) => {
        if (e !== null) map.set(e.id, e);
      });
      setKnown(map);
    });
    return () => {
      live = false;
    };
  }, [bets]);
  return known;
}

function Leg({ leg, event, closed }: { leg: Bet["legs"][number]; event: Event | undefined; closed: boolean }) {
  const market = event?.markets.find((m) => m.id === leg.market_id);
  const selection = market?.selections.find((s) => s.id === leg.selection_id);
  const { show } = useOddsFormat();
  return (
    <li>
      <span>
        <strong>{selection?.name ?? `Selection ${leg.selection_id.slice(0, 8)}`}</strong>
        <span className="muted small block">
          {market ? marketName(market.type, market.specifiers) : "Market"}
          {" · "}
          {event ? <Link to={`/events/${event.id}`}>{event.name}</Link> : `Event ${leg.event_id.slice(0, 8)}`}
        </span>
      </span>
      <span>
        <span className="odds">{show(leg.odds)}</span> <span className="small">{closed && !leg.result ? "—" : legResult(leg.result)}</span>
      </span>
    </li>
  );
}

function BetCard({ bet, events: known, onCashedOut }: { bet: Bet; events: Map<string, Event>; onCashedOut: (paid: number) => void }) {
  const m = (v: number) => formatMoney(v, bet.currency);
  const title = betType(bet.type, bet.legs.length, bet.system, bet.each_way);
  const settled = bet.settled_at !== null && bet.settled_at !== undefined;
  return (
    <article className="bet" aria-label={`${title}, ${betStatus(bet.status)}`}>
      <header>
        <h2>{title}</h2>
        <span className={`status status-bet-${bet.status}`}>{betStatus(bet.status)}</span>
      </header>
      <ul className="legs">
        {bet.legs.map((leg) => (
          <Leg key={leg.selection_id} leg={leg} event={known.get(leg.event_id)} closed={settled} />
        ))}
      </ul>
      <dl className="figures">
        <div>
          <dt>Stake{bet.lines > 1 ? ` (${bet.lines} lines)` : ""}</dt>
          <dd>{m(bet.stake)}</dd>
        </div>
        <div>
          <dt>Total stake</dt>
          <dd>{m(bet.total_stake)}</dd>
        </div>
        <div>
          <dt>Potential return</dt>
          <dd>{m(bet.potential_return)}</dd>
        </div>
        {settled && (
          <div>
            <dt>Return</dt>
            <dd>{m(bet.return ?? 0)}</dd>
          </div>
        )}
        <div>
          <dt>Placed</dt>
          <dd>{formatDateTime(bet.placed_at)}</dd>
        </div>
        {settled && bet.settled_at && (
          <div>
            <dt>Settled</dt>
            <dd>{formatDateTime(bet.settled_at)}</dd>
          </div>
        )}
      </dl>
      {bet.reject_code && <p className="error">{describe(bet.reject_code)}</p>}
      {bet.status === "open" && <Cashout betId={bet.id} currency={bet.currency} onCashedOut={onCashedOut} />}
    </article>
  );
}

function BetList({ status }: { status: Tab }) {
  const [bets, setBets] = useState<Bet[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [cashedOut, setCashedOut] = useState<{ id: string; paid: number; currency: string } | null>(null);
  const known = useEvents(bets ?? NO_BETS);

  const load = useCallback(() => {
    let live = true;
    ok(api.GET("/api/v1/bets", { params: { query: { status, limit: 20 } } })).then(
      (page) => {
        if (!live) return;
        setBets(page.items);
        setCursor(page.next_cursor);
        setError(null);
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [status]);

  useEffect(load, [load]);
  // a bet placed, cashed out or settled moves money: show the list as it is now
  useWalletChanged(() => {
    load();
  });

  async function more() {
    if (cursor === null) return;
    setLoadingMore(true);
    try {
      const page = await ok(api.GET("/api/v1/bets", { params: { query: { status, limit: 20, cursor } } }));
      setBets((old) => {
        const seen = new Set((old ?? []).map((b) => b.id));
        return [...(old ?? []), ...page.items.filter((b) => !seen.has(b.id))];
      });
      setCursor(page.next_cursor);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <>
      <div aria-live="polite">
        {cashedOut !== null && (
          <p className="success" role="status">
            Cashed out: {formatMoney(cashedOut.paid, cashedOut.currency)} has been added to your wallet.
          </p>
        )}
      </div>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {bets === null && error === null && <p className="loading">Loading…</p>}
      {bets !== null && bets.length === 0 && (
        <p className="muted">
          {status === "open" ? "You have no open bets." : "You have no settled bets yet."}{" "}
          <Link to="/">Find something to bet on</Link>.
        </p>
      )}
      {bets?.map((bet) => (
        <BetCard
          key={bet.id}
          bet={bet}
          events={known}
          onCashedOut={(paid) => {
            setCashedOut({ id: bet.id, paid, currency: bet.currency });
            setBets((old) => (old ?? []).filter((b) => b.id !== bet.id)); // now a settled bet
          }}
        />
      ))}
      {cursor !== null && (
        <button type="button" className="secondary more" onClick={() => void more()} disabled={loadingMore}>
          {loadingMore ? "Loading…" : "Load more"}
        </button>
      )}
    </>
  );
}

const TABS: { id: Tab; label: string }[] = [
  { id: "open", label: "Open" },
  { id: "settled", label: "Settled" },
];

function MyBetsPage() {
  const [tab, setTab] = useState<Tab>("open");
  const ids = useId();
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});

  function onKey(e: KeyboardEvent) {
    const i = TABS.findIndex((t) => t.id === tab);
    let j: number | null = null;
    if (e.key === "ArrowRight") j = (i + 1) % TABS.length;
    if (e.key === "ArrowLeft") j = (i - 1 + TABS.length) % TABS.length;
    if (e.key === "Home") j = 0;
    if (e.key === "End") j = TABS.length - 1;
    const next = j === null ? undefined : TABS[j];
    if (next === undefined) return;
    e.preventDefault();
    setTab(next.id);
    refs.current[next.id]?.focus();
  }

  return (
    <div className="money-page">
      <h1>My bets</h1>
      <div className="tabs" role="tablist" aria-label="Bets" onKeyDown={onKey}>
        {TABS.map((t) => (
          <button
            key={t.id}
            ref={(el) => {
              refs.current[t.id] = el;
            }}
            type="button"
            role="tab"
            id={`${ids}-tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`${ids}-panel`}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${ids}-panel`} aria-labelledby={`${ids}-tab-${tab}`}>
        <BetList key={tab} status={tab} />
      </div>
    </div>
  );
}

export default function MyBets() {
  return (
    <RequireLogin>
      <MyBetsPage />
    </RequireLogin>
  );
}
