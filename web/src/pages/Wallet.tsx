// The player's wallet: balances, card deposits and withdrawals, recent payments and the transactions list.
import { useCallback, useEffect, useState } from "react";
import { api, errorText, ok, type Schemas } from "../api/client";
import { describe } from "../api/messages";
import { useAuth } from "../auth";
import { formatDateTime, paymentDirection, paymentStatus, transactionKind } from "../components/labels";
import { RequireLogin } from "../components/RequireLogin";
import { useWalletChanged } from "../components/walletEvents";
import { formatMoney } from "../money";
import { answerChallenge, useFocusLater } from "../components/payments";
import { ThreeDSDialog } from "../components/ThreeDSDialog";
import { announceWalletChanged } from "../components/walletEvents";
import { DepositForm, Outcome, WithdrawForm } from "./WalletPayments";
import "./wallet.css";

type WalletOut = Schemas["WalletOut"];
type Transaction = Schemas["TransactionsOut"]["items"][number];
type Payment = Schemas["PaymentOut"];

function Balances({ wallet }: { wallet: WalletOut }) {
  const m = (v: number) => formatMoney(v, wallet.currency);
  return (
    <section className="panel" aria-labelledby="balances-title">
      <h2 id="balances-title">Balances</h2>
      <dl className="balances">
        <div>
          <dt>Cash</dt>
          <dd>{m(wallet.cash)}</dd>
        </div>
        <div>
          <dt>Bonus</dt>
          <dd>{m(wallet.bonus)}</dd>
        </div>
        <div>
          <dt>Reserved</dt>
          <dd>{m(wallet.reserved)}</dd>
        </div>
        <div>
          <dt>Withdrawable</dt>
          <dd>{m(wallet.withdrawable)}</dd>
        </div>
      </dl>
      <p className="muted small">Reserved money is held for withdrawals on their way. Bonus money can be bet but not withdrawn.</p>
    </section>
  );
}

function Payments({ version }: { version: number }) {
  const [items, setItems] = useState<Payment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // a deposit left waiting for its 3-D Secure answer (the page was closed mid-way) can be answered from here
  const [challenge, setChallenge] = useState<Payment | null>(null);
  const [authBusy, setAuthBusy] = useState(false);
  const [answered, setAnswered] = useState<Payment | null>(null);
  const [authError, setAuthError] = useState<string | null>(null);
  const [outcomeRef, focusOutcome] = useFocusLater<HTMLDivElement>();

  async function authenticate(passed: boolean) {
    if (challenge === null) return;
    setAuthBusy(true);
    setAuthError(null);
    try {
      const p = await answerChallenge(challenge.id, passed);
      setAnswered(p);
      announceWalletChanged();
    } catch (e) {
      setAuthError(errorText(e));
      announceWalletChanged();
    } finally {
      setAuthBusy(false);
      setChallenge(null);
      focusOutcome();
    }
  }
  useEffect(() => {
    let live = true;
    ok(api.GET("/api/v1/payments", { params: { query: { limit: 10 } } })).then(
      (r) => {
        if (!live) return;
        setItems(r.items);
        setError(null);
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [version]);

  return (
    <section className="panel" aria-labelledby="payments-title">
      <h2 id="payments-title">Recent payments</h2>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div aria-live="polite" tabIndex={-1} ref={outcomeRef} className="outcome">
        {answered !== null && <Outcome payment={answered} />}
        {authError !== null && (
          <p className="error" role="alert">
            {authError}
          </p>
        )}
      </div>
      {items === null && error === null && <p className="loading">Loading…</p>}
      {items !== null && items.length === 0 && <p className="muted">No deposits or withdrawals yet.</p>}
      {challenge !== null && (
        <ThreeDSDialog
          amount={challenge.amount}
          currency={challenge.currency}
          last4={challenge.card?.last4 ?? null}
          busy={authBusy}
          onAnswer={(passed) => void authenticate(passed)}
        />
      )}
      {items !== null && items.length > 0 && (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Recent payments table">
          <table>
            <thead>
              <tr>
                <th scope="col">Payment</th>
                <th scope="col" className="num">
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.id}>
                  <td>
                    {paymentDirection(p.direction)}
                    {p.card && <> · <span className="nowrap">card •••• {p.card.last4}</span></>}
                    <span className="muted small block">{formatDateTime(p.created_at)}</span>
                    <span className={`status block status-${p.status}`}>{paymentStatus(p.status)}</span>
                    {p.status === "requires_action" && p.direction === "deposit" && (
                      <button
                        type="button"
                        className="secondary small block"
                        onClick={() => {
                          setAnswered(null);
                          setAuthError(null);
                          setChallenge(p);
                        }}
                      >
                        Confirm with your bank
                      </button>
                    )}
                    {p.status === "failed" && p.decline_code && (
                      <span className="muted small block">{describe(p.decline_code)}</span>
                    )}
                  </td>
                  <td className="num">{formatMoney(p.amount, p.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Transactions({ version, currency }: { version: number; currency: string }) {
  const [items, setItems] = useState<Transaction[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    ok(api.GET("/api/v1/wallet/transactions", { params: { query: { limit: 20 } } })).then(
      (page) => {
        if (!live) return;
        setItems(page.items);
        setCursor(page.next_cursor);
        setError(null);
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [version]);

  async function more() {
    if (cursor === null) return;
    setLoadingMore(true);
    try {
      const page = await ok(api.GET("/api/v1/wallet/transactions", { params: { query: { limit: 20, cursor } } }));
      setItems((old) => {
        const seen = new Set((old ?? []).map((t) => t.id));
        return [...(old ?? []), ...page.items.filter((t) => !seen.has(t.id))];
      });
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <section className="panel" aria-labelledby="transactions-title">
      <h2 id="transactions-title">Transactions</h2>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {items === null && error === null && <p className="loading">Loading…</p>}
      {items !== null && items.length === 0 && <p className="muted">No transactions yet.</p>}
      {items !== null && items.length > 0 && (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Transactions table">
          <table>
            <thead>
              <tr>
                <th scope="col">Transaction</th>
                <th scope="col" className="num">
                  Amount
                </th>
                <th scope="col" className="num">
                  Balance after
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <td>
                    {transactionKind(t.kind)}
                    <span className="muted small block">{formatDateTime(t.created_at)}</span>
                  </td>
                  <td className={`num ${t.amount < 0 ? "out" : "in"}`}>
                    {t.amount > 0 ? "+" : ""}
                    {formatMoney(t.amount, currency)}
                  </td>
                  <td className="num">{formatMoney(t.balance_after, currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor !== null && (
        <button type="button" className="secondary more" onClick={() => void more()} disabled={loadingMore}>
          {loadingMore ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}

function WalletPage() {
  const { me } = useAuth();
  const [wallet, setWallet] = useState<WalletOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  const load = useCallback(() => {
    ok(api.GET("/api/v1/wallet")).then(
      (w) => {
        setWallet(w);
        setError(null);
      },
      (e: unknown) => setError(errorText(e)),
    );
  }, []);

  useEffect(load, [load]);
  useWalletChanged(() => {
    load();
    setVersion((v) => v + 1);
  });

  return (
    <div className="money-page">
      <h1>Wallet</h1>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {wallet === null && error === null && <p className="loading">Loading…</p>}
      {wallet !== null && (
        <>
          <Balances wallet={wallet} />
          <div className="money-forms">
            <DepositForm currency={wallet.currency} />
            <WithdrawForm currency={wallet.currency} withdrawable={wallet.withdrawable} kyc={me?.kyc_status ?? null} />
          </div>
          <Payments version={version} />
          <Transactions version={version} currency={wallet.currency} />
        </>
      )}
    </div>
  );
}

export default function Wallet() {
  return (
    <RequireLogin>
      <WalletPage />
    </RequireLogin>
  );
}
