// The bet slip: its legs at their live prices, the bet type (singles, a multiple, a system), each-way, the stake
// per line, the odds-change choice, the lines, total stake and potential return (computed here exactly, and the
// platform's own quote beside it with the stake limits), then placement with an Idempotency-Key and the in-play
// delay's wait.
import { useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { ApiError, api, newKey, ok, type Schemas } from "../api/client";
import { describe } from "../api/messages";
import { useAuth } from "../auth";
import { useOddsFormat } from "../odds/format";
import { useLiveEvent, useSelections } from "../odds/live";
import { formatMoney, parseMoney } from "../money";
import { useSlip, type SlipLeg } from "./context";
import { slipTerms, systemLabel, systemsFor, type BetKind } from "./math";
import "../components/prices.css";
import "./slip.css";

type OddsChange = "none" | "higher" | "any";
type BetIn = Schemas["BetIn"];
type Quote = Schemas["QuoteOut"];

type Outcome =
  | { kind: "idle" }
  | { kind: "placing" }
  | { kind: "pending"; betId: string; until: number }
  | { kind: "accepted"; betId: string; count: number }
  | { kind: "refused"; code: string };

const ODDS_CHANGE: readonly { value: OddsChange; label: string }[] = [
  { value: "none", label: "Only at these odds" },
  { value: "higher", label: "Accept higher odds" },
  { value: "any", label: "Accept any odds change" },
];

/** "Waiting for the in-play delay (N s)…", counting down each second. */
function Countdown({ until }: { until: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const left = Math.max(0, Math.ceil((until - now) / 1000));
  return (
    <p className="notice" role="status">
      Waiting for the in-play delay{left > 0 ? ` (${left} s)` : ""}…
    </p>
  );
}

function LegRow({ leg, odds, open }: { leg: SlipLeg; odds: string; open: boolean }) {
  useLiveEvent(leg.eventId); // keep the leg's price live whatever page is showing
  const { remove } = useSlip();
  const { show } = useOddsFormat();
  const changed = odds !== leg.odds;
  return (
    <li className={`leg${open ? "" : " closed"}`}>
      <div className="leg-text">
        <strong>{leg.selectionName}</strong>
        <span className="muted">{leg.marketName}</span>
        <span className="muted">{leg.eventName}</span>
        {!open && <span className="badge status">Suspended</span>}
      </div>
      <span className="leg-odds" aria-label={`Odds ${show(odds)}${changed ? `, were ${show(leg.odds)}` : ""}`}>
        {changed && <s className="muted">{show(leg.odds)}</s>} {show(odds)}
      </span>
      <button type="button" className="link remove" onClick={() => remove(leg.selectionId)}>
        Remove<span className="visually-hidden"> {leg.selectionName}</span>
      </button>
    </li>
  );
}

export function BetSlip() {
  const { me } = useAuth();
  const slip = useSlip();
  const { legs } = slip;
  const currency = me?.currency ?? "EUR";
  const prices = useSelections(legs.map((l) => l.selectionId));
  const [kind, setKind] = useState<BetKind>("single");
  const [system, setSystem] = useState<string>("");
  const [eachWay, setEachWay] = useState(false);
  const [stakeText, setStakeText] = useState("");
  const [oddsChange, setOddsChange] = useState<OddsChange>("higher");
  const [quote, setQuote] = useState<Quote | null>(null);
  const [quoteError, setQuoteError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome>({ kind: "idle" });
  const attempt = useRef<{ body: string; key: string } | null>(null);

  const n = legs.length;
  const systems = useMemo(() => systemsFor(n), [n]);
  const sameEvent = new Set(legs.map((l) => l.eventId)).size !== n;
  const effectiveKind: BetKind = n < 2 || sameEvent ? "single" : kind === "system" && systems.length === 0 ? "single" : kind;
  const effectiveSystem = effectiveKind === "system" ? (systems.includes(system) ? system : (systems[0] ?? null)) : null;
  const eachWayOffered = n > 0 && legs.every((l) => l.eachWay !== null);
  const ew = eachWay && eachWayOffered;
  const stake = parseMoney(stakeText, currency);
  const legOdds = legs.map((l) => prices.get(l.selectionId)?.odds ?? l.odds);
  const allOpen = legs.every((l) => (prices.get(l.selectionId)?.status ?? "active") === "active");
  const terms = slipTerms(
    effectiveKind,
    effectiveSystem,
    legs.map((l, i) => ({ odds: legOdds[i] ?? l.odds, eachWay: l.eachWay?.fraction ?? null })),
    stake ?? 0,
    ew,
  );

  const body: BetIn | null =
    n === 0
      ? null
      : {
          type: effectiveKind,
          system: effectiveSystem,
          legs: legs.map((l, i) => ({ selection_id: l.selectionId, odds: legOdds[i] ?? l.odds })),
          stake: stake ?? 0,
          each_way: ew,
          odds_change: oddsChange,
        };
  const bodyText = body === null ? "" : JSON.stringify(body);

  // the platform's quote of this slip (limits, its own potential return), debounced while the player types
  useEffect(() => {
    setQuote(null);
    setQuoteError(null);
    if (me === null || body === null || stake === null || stake <= 0) return;
    let live = true;
    const timer = setTimeout(() => {
      ok(api.POST("/api/v1/bets/quote", { body }))
        .then((q) => live && setQuote(q))
        .catch((e: unknown) => live && setQuoteError(e instanceof ApiError ? e.code : "network_error"));
    }, 400);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [bodyText, me]);

  // a pending bet (in-play delay): ask until it is accepted or rejected
  useEffect(() => {
    if (outcome.kind !== "pending") return;
    let live = true;
    const betId = outcome.betId;
    const poll = async () => {
      while (live) {
        await new Promise((r) => setTimeout(r, 1000));
        if (!live) return;
        try {
          const bet = await ok(api.GET("/api/v1/bets/{bet_id}", { params: { path: { bet_id: betId } } }));
          if (!live) return;
          if (bet.status === "pending") continue;
          window.dispatchEvent(new Event("wallet:changed"));
          if (bet.status === "rejected") setOutcome({ kind: "refused", code: bet.reject_code ?? "invalid_bet" });
          else {
            slip.clear();
            setOutcome({ kind: "accepted", betId, count: 1 });
          }
          return;
        } catch {
          // a dropped connection: ask again at the next tick
        }
      }
    };
    void poll();
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [outcome]);

  async function place() {
    if (body === null || stake === null || stake <= 0) return;
    // the same submission retried (after a dropped connection) keeps its key, so it is never placed twice
    const key = attempt.current?.body === bodyText ? attempt.current.key : newKey();
    attempt.current = { body: bodyText, key };
    setOutcome({ kind: "placing" });
    try {
      const placed = await ok(api.POST("/api/v1/bets", { body, params: { header: { "idempotency-key": key } } }));
      attempt.current = null;
      window.dispatchEvent(new Event("wallet:changed"));
      if (placed.status === "accepted") {
        slip.clear();
        setOutcome({ kind: "accepted", betId: placed.id, count: 1 });
      } else if (placed.status === "pending") {
        setOutcome({ kind: "pending", betId: placed.id, until: Date.now() + (quote?.in_play_delay_s ?? 0) * 1000 });
      } else {
        setOutcome({ kind: "refused", code: placed.reject_code ?? "invalid_bet" });
      }
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, "network_error", "");
      // a refusal is final for this key (a replay would answer it again); a lost answer is retried with the key
      if (err.status >= 400 && err.status < 500) attempt.current = null;
      setOutcome({ kind: "refused", code: err.code });
    }
  }

  const busy = outcome.kind === "placing" || outcome.kind === "pending";
  const result =
    outcome.kind === "accepted" ? (
      <p className="success" role="status">
        Bet placed. Reference: <code>{outcome.betId}</code>. <Link to="/bets">My bets</Link>
      </p>
    ) : outcome.kind === "pending" ? (
      <Countdown until={outcome.until} />
    ) : outcome.kind === "refused" ? (
      <p className="error" role="alert">
        {describe(outcome.code)}
      </p>
    ) : null;

  if (n === 0) {
    return (
      <div className="betslip">
        <h2>Bet slip</h2>
        {result}
        <p className="muted">Choose a price to add a selection.</p>
      </div>
    );
  }

  const betTypes: { value: BetKind; label: string; enabled: boolean }[] = [
    { value: "single", label: n > 1 ? `Singles (${n})` : "Single", enabled: true },
    { value: "multiple", label: "Multiple", enabled: n >= 2 && !sameEvent },
    { value: "system", label: "System", enabled: systems.length > 0 && !sameEvent },
  ];
  const stakeInvalid = stakeText.trim() !== "" && stake === null;
  const canPlace = me !== null && !busy && stake !== null && stake > 0 && terms !== null && allOpen;

  return (
    <form
      className="betslip"
      onSubmit={(e) => {
        e.preventDefault();
        void place();
      }}
    >
      <div className="slip-head">
        <h2>Bet slip</h2>
        <button type="button" className="link" onClick={() => slip.clear()} disabled={busy}>
          Clear all
        </button>
      </div>
      <ul className="legs" aria-label="Selections">
        {legs.map((l, i) => (
          <LegRow
            key={l.selectionId}
            leg={l}
            odds={legOdds[i] ?? l.odds}
            open={(prices.get(l.selectionId)?.status ?? "active") === "active"}
          />
        ))}
      </ul>
      {sameEvent && n > 1 && <p className="muted small">Selections on the same event can only be bet as singles.</p>}

      <fieldset className="bet-type">
        <legend>Bet type</legend>
        {betTypes
          .filter((t) => t.enabled)
          .map((t) => (
            <label key={t.value} className="inline">
              <input
                type="radio"
                name="bet-type"
                value={t.value}
                checked={effectiveKind === t.value}
                onChange={() => setKind(t.value)}
              />{" "}
              {t.label}
            </label>
          ))}
      </fieldset>
      {effectiveKind === "system" && (
        <>
          <label htmlFor="slip-system">System</label>
          <select id="slip-system" value={effectiveSystem ?? ""} onChange={(e) => setSystem(e.target.value)}>
            {systems.map((s) => (
              <option key={s} value={s}>
                {systemLabel(s)}
              </option>
            ))}
          </select>
        </>
      )}
      {eachWayOffered && (
        <label className="inline each-way-toggle">
          <input type="checkbox" checked={eachWay} onChange={(e) => setEachWay(e.target.checked)} /> Each way
          {legs[0]?.eachWay && n === 1 && (
            <span className="muted">
              {" "}
              ({legs[0].eachWay.fraction} odds, {legs[0].eachWay.places} places)
            </span>
          )}
        </label>
      )}

      <label htmlFor="slip-stake">Stake per line ({currency})</label>
      <input
        id="slip-stake"
        type="text"
        inputMode="decimal"
        autoComplete="off"
        value={stakeText}
        aria-invalid={stakeInvalid}
        aria-describedby={stakeInvalid ? "slip-stake-err" : undefined}
        onChange={(e) => {
          setStakeText(e.target.value);
          if (outcome.kind === "refused" || outcome.kind === "accepted") setOutcome({ kind: "idle" });
        }}
      />
      {stakeInvalid && (
        <p id="slip-stake-err" className="error small">
          Enter an amount like 5 or 2.50.
        </p>
      )}
      {quote && (
        <p className="muted small">
          Stake per line: from {formatMoney(quote.min_stake, quote.currency)}
          {quote.max_stake > 0 ? ` up to ${formatMoney(quote.max_stake, quote.currency)}` : ""}
        </p>
      )}

      <fieldset className="odds-change">
        <legend>If the odds change</legend>
        {ODDS_CHANGE.map((o) => (
          <label key={o.value} className="inline">
            <input
              type="radio"
              name="odds-change"
              value={o.value}
              checked={oddsChange === o.value}
              onChange={() => setOddsChange(o.value)}
            />{" "}
            {o.label}
          </label>
        ))}
      </fieldset>

      <dl className="totals">
        <dt>Lines</dt>
        <dd>{terms?.lines ?? "–"}</dd>
        <dt>Total stake</dt>
        <dd>{terms && stake !== null ? formatMoney(terms.totalStake, currency) : "–"}</dd>
        <dt>Potential return</dt>
        <dd>
          {quote ? formatMoney(quote.potential_return, quote.currency) : terms && stake !== null ? formatMoney(terms.potentialReturn, currency) : "–"}
        </dd>
      </dl>
      {quote?.reject_code && <p className="notice small">{describe(quote.reject_code)}</p>}
      {quoteError && <p className="notice small">{describe(quoteError)}</p>}
      {!allOpen && <p className="notice small">A selection is suspended: wait for it to reopen, or remove it.</p>}
      {result}
      {me === null ? (
        <p>
          <Link to="/login" className="button">
            Log in to bet
          </Link>
        </p>
      ) : (
        <button type="submit" className="place" disabled={!canPlace}>
          {outcome.kind === "placing" ? "Placing…" : "Place bet"}
        </button>
      )}
    </form>
  );
}
