// An open bet's cash-out: its live value (asked every 3 s while the page is visible) and the button that takes
// it. A value that moved before the cash-out was struck is shown to the player to confirm again.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, errorText, newKey, ok } from "../api/client";
import { describe } from "../api/messages";
import { answered, keyFor, type Sent } from "../components/submission";
import { announceWalletChanged, useInView, useVisibleInterval } from "../components/walletEvents";
import { formatMoney } from "../money";

type Props = { betId: string; currency: string; onCashedOut: (paid: number) => void };

export function Cashout({ betId, currency, onCashedOut }: Props) {
  const [quote, setQuote] = useState<number | null>(null);
  const [unavailable, setUnavailable] = useState<string | null>(null);
  const [changedFrom, setChangedFrom] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const last = useRef<Sent | null>(null);
  const busyRef = useRef(false);
  const [ref, inView] = useInView<HTMLDivElement>();

  const load = useCallback(async (): Promise<number | null> => {
    try {
      const q = await ok(api.GET("/api/v1/bets/{bet_id}/cashout", { params: { path: { bet_id: betId } } }));
      setQuote(q.amount);
      setUnavailable(null);
      return q.amount;
    } catch (e) {
      if (e instanceof ApiError && (e.code === "cashout_unavailable" || e.code === "bet_not_open")) {
        setQuote(null);
        setUnavailable(describe(e.code));
      }
      // a dropped poll keeps the last value; the next one asks again
      return null;
    }
  }, [betId]);

  useEffect(() => {
    if (inView) void load();
  }, [load, inView]);
  // the live value of a bet on screen, every 3 s while the page is visible
  useVisibleInterval(
    () => {
      if (!busyRef.current) void load();
    },
    inView ? 3000 : null,
  );

  async function cashOut(amount: number) {
    const text = JSON.stringify({ amount });
    const key = keyFor(last.current, text, newKey);
    last.current = { key, body: text, answered: false };
    busyRef.current = true;
    setBusy(true);
    setError(null);
    try {
      const done = await ok(
        api.POST("/api/v1/bets/{bet_id}/cashout", {
          params: { path: { bet_id: betId }, header: { "idempotency-key": key } },
          body: { amount },
        }),
      );
      last.current = { key, body: text, answered: true };
      announceWalletChanged();
      onCashedOut(done.return);
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      last.current = { key, body: text, answered: answered(status) };
      const code = e instanceof ApiError ? e.code : "network_error";
      if (code === "cashout_price_changed") {
        const fresh = await load();
        setChangedFrom(amount);
        if (fresh === null) setError(describe("cashout_unavailable"));
      } else if (code === "cashout_unavailable" || code === "bet_not_open") {
        setQuote(null);
        setUnavailable(describe(code));
      } else {
        setError(
          errorText(e) +
            (answered(status) ? "" : " Trying again is safe: the bet is cashed out at most once."),
        );
      }
    } finally {
      busyRef.current = false;
      setBusy(false);
    }
  }

  return (
    <div className="cashout" ref={ref}>
      {quote !== null && changedFrom !== null && (
        <p className="notice" role="alert">
          The cash-out value changed
          {changedFrom !== quote && <> from {formatMoney(changedFrom, currency)}</>}: it is now{" "}
          <strong>{formatMoney(quote, currency)}</strong>. Confirm to cash out at this value.
        </p>
      )}
      {quote !== null ? (
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            setChangedFrom(null);
            void cashOut(quote);
          }}
        >
          {busy ? "Cashing out…" : `Cash out for ${formatMoney(quote, currency)}`}
        </button>
      ) : unavailable !== null ? (
        <p className="muted small">{unavailable} It may come back when the market reopens.</p>
      ) : (
        <p className="loading small">Checking the cash-out value…</p>
      )}
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
