// The wallet's card payments: a deposit (with its 3-D Secure step and a pending one followed to its end) and a
// withdrawal. Each submission sends its own Idempotency-Key, kept for a retry of the same submission.
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, ApiError, errorText, newKey, ok, type Schemas } from "../api/client";
import { describe } from "../api/messages";
import { cardBody, cardErrors, EMPTY_CARD, type CardErrors, type CardForm } from "../components/card";
import { answered, isFinal, keyFor, type Sent } from "../components/submission";
import { answerChallenge, useFocusLater } from "../components/payments";
import { ThreeDSDialog } from "../components/ThreeDSDialog";
import { announceWalletChanged } from "../components/walletEvents";
import { formatMoney, parseMoney } from "../money";
import { CardFields } from "./WalletCard";

type Payment = Schemas["PaymentOut"];

/** Follow a payment until it is final (or the page leaves): a GET every 2 s, for up to 2 minutes. */
function useFollow(payment: Payment | null, onUpdate: (p: Payment) => void): void {
  const latest = useRef(onUpdate);
  latest.current = onUpdate;
  const id = payment?.id;
  const following = payment !== null && payment.status === "pending";
  useEffect(() => {
    if (!following || id === undefined) return;
    let tries = 0;
    let stopped = false;
    const timer = window.setInterval(() => {
      if (stopped) return;
      if (++tries > 60) {
        window.clearInterval(timer);
        return;
      }
      ok(api.GET("/api/v1/payments/{payment_id}", { params: { path: { payment_id: id } } })).then(
        (p) => {
          if (stopped) return;
          if (p.status !== "pending") window.clearInterval(timer);
          latest.current(p);
        },
        () => {
          // a dropped poll: the next one tries again
        },
      );
    }, 2000);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [id, following]);
}

export function Outcome({ payment }: { payment: Payment }) {
  const amount = formatMoney(payment.amount, payment.currency);
  const deposit = payment.direction === "deposit";
  if (payment.status === "succeeded") {
    return (
      <p className="success" role="status">
        {deposit ? `${amount} has been added to your wallet.` : `${amount} has been paid out to your card.`}
      </p>
    );
  }
  if (payment.status === "failed") {
    return (
      <p className="error" role="alert">
        {deposit ? "Your deposit did not go through. " : "Your withdrawal did not go through. "}
        {describe(payment.decline_code, "No money was taken.")}
      </p>
    );
  }
  if (payment.status === "requires_action") {
    return (
      <p className="notice" role="status">
        Your bank asks you to confirm this payment.
      </p>
    );
  }
  return (
    <p className="notice" role="status">
      {deposit
        ? `Your deposit of ${amount} is being processed. This page updates when your bank answers.`
        : `Your withdrawal of ${amount} is on its way: the amount is held from your balance until the payment is made.`}
    </p>
  );
}

function useAmount(currency: string) {
  const [text, setText] = useState("");
  const minor = parseMoney(text, currency);
  return { text, setText, minor };
}

export function DepositForm({ currency }: { currency: string }) {
  const ids = useId();
  const amount = useAmount(currency);
  const [card, setCard] = useState<CardForm>(EMPTY_CARD);
  const [errors, setErrors] = useState<CardErrors & { amount?: string }>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [payment, setPayment] = useState<Payment | null>(null);
  const [authBusy, setAuthBusy] = useState(false);
  const last = useRef<Sent | null>(null);
  // after the 3-D Secure dialog, focus goes to what came of it (the button that opened it was disabled)
  const [outcomeRef, focusOutcome] = useFocusLater<HTMLDivElement>();

  const update = (p: Payment) => {
    setPayment(p);
    if (p.status === "succeeded") announceWalletChanged();
  };
  useFollow(payment, update);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: CardErrors & { amount?: string } = cardErrors(card);
    if (amount.minor === null || amount.minor <= 0) found.amount = "Enter an amount, for example 20 or 20.50.";
    setErrors(found);
    setFailure(null);
    setPayment(null);
    if (Object.keys(found).length > 0 || amount.minor === null) return;
    const body = { amount: amount.minor, currency, card: cardBody(card) };
    const text = JSON.stringify(body);
    const key = keyFor(last.current, text, newKey);
    last.current = { key, body: text, answered: false };
    setBusy(true);
    setPayment(null);
    try {
      const p = await ok(api.POST("/api/v1/deposits", { body, params: { header: { "idempotency-key": key } } }));
      last.current = { key, body: text, answered: true };
      update(p);
      if (p.status !== "failed") setCard((c) => ({ ...c, cvc: "" }));
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      last.current = { key, body: text, answered: answered(status) };
      setFailure(errorText(err) + (answered(status) ? "" : " Sending it again is safe: you will not be charged twice."));
    } finally {
      setBusy(false);
    }
  }

  async function authenticate(passed: boolean) {
    if (payment === null) return;
    setAuthBusy(true);
    try {
      const p = await answerChallenge(payment.id, passed);
      update(p);
    } catch (err) {
      setPayment(null);
      setFailure(errorText(err));
    } finally {
      setAuthBusy(false);
      focusOutcome();
    }
  }

  return (
    <form className="panel money-form" onSubmit={submit} noValidate aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`}>Deposit</h2>
      <label htmlFor={`${ids}-amount`}>Amount ({currency})</label>
      <input
        id={`${ids}-amount`}
        type="text"
        inputMode="decimal"
        autoComplete="off"
        value={amount.text}
        onChange={(e) => amount.setText(e.target.value)}
        aria-invalid={errors.amount ? true : undefined}
        aria-describedby={errors.amount ? `${ids}-amount-error` : undefined}
        disabled={busy}
      />
      {errors.amount && (
        <p id={`${ids}-amount-error`} className="field-error">
          {errors.amount}
        </p>
      )}
      <CardFields card={card} errors={errors} onChange={setCard} disabled={busy} />
      <button type="submit" disabled={busy}>
        {busy ? "Depositing…" : amount.minor ? `Deposit ${formatMoney(amount.minor, currency)}` : "Deposit"}
      </button>
      <div aria-live="polite" tabIndex={-1} ref={outcomeRef} className="outcome">
        {failure !== null && (
          <p className="error" role="alert">
            {failure}
          </p>
        )}
        {payment !== null && <Outcome payment={payment} />}
      </div>
      {payment !== null && payment.status === "requires_action" && (
        <ThreeDSDialog
          amount={payment.amount}
          currency={payment.currency}
          last4={payment.card?.last4 ?? null}
          busy={authBusy}
          onAnswer={(passed) => void authenticate(passed)}
        />
      )}
    </form>
  );
}

export function WithdrawForm({ currency, withdrawable, kyc }: { currency: string; withdrawable: number; kyc: string | null }) {
  const ids = useId();
  const amount = useAmount(currency);
  const [card, setCard] = useState<CardForm>(EMPTY_CARD);
  const [errors, setErrors] = useState<CardErrors & { amount?: string }>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ code: string; text: string } | null>(null);
  const [payment, setPayment] = useState<Payment | null>(null);
  const last = useRef<Sent | null>(null);

  const update = (p: Payment) => {
    setPayment(p);
    if (isFinal(p.status)) announceWalletChanged();
  };
  useFollow(payment, update);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: CardErrors & { amount?: string } = cardErrors(card);
    if (amount.minor === null || amount.minor <= 0) found.amount = "Enter an amount, for example 20 or 20.50.";
    else if (amount.minor > withdrawable)
      found.amount = `You can withdraw up to ${formatMoney(withdrawable, currency)}.`;
    setErrors(found);
    setFailure(null);
    setPayment(null);
    if (Object.keys(found).length > 0 || amount.minor === null) return;
    const body = { amount: amount.minor, currency, card: cardBody(card) };
    const text = JSON.stringify(body);
    const key = keyFor(last.current, text, newKey);
    last.current = { key, body: text, answered: false };
    setBusy(true);
    setPayment(null);
    try {
      const p = await ok(api.POST("/api/v1/withdrawals", { body, params: { header: { "idempotency-key": key } } }));
      last.current = { key, body: text, answered: true };
      setPayment(p);
      announceWalletChanged(); // held from the balance at once
      setCard((c) => ({ ...c, cvc: "" }));
      amount.setText("");
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      last.current = { key, body: text, answered: answered(status) };
      const code = err instanceof ApiError ? err.code : "network_error";
      let message = errorText(err);
      if (code === "insufficient_funds") message += ` You can withdraw up to ${formatMoney(withdrawable, currency)} (bonus money and withdrawals already on their way do not count).`;
      if (!answered(status)) message += " Sending it again is safe: it will not be paid twice.";
      setFailure({ code, text: message });
    } finally {
      setBusy(false);
    }
  }

  const unverified = kyc !== null && kyc !== "verified";
  return (
    <form className="panel money-form" onSubmit={submit} noValidate aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`}>Withdraw</h2>
      <p className="muted">
        You can withdraw up to <strong>{formatMoney(withdrawable, currency)}</strong> to a card.
      </p>
      {unverified && (
        <p className="notice">
          We need to verify your identity before you can withdraw. <Link to="/account">See your account</Link>.
        </p>
      )}
      <label htmlFor={`${ids}-amount`}>Amount ({currency})</label>
      <input
        id={`${ids}-amount`}
        type="text"
        inputMode="decimal"
        autoComplete="off"
        value={amount.text}
        onChange={(e) => amount.setText(e.target.value)}
        aria-invalid={errors.amount ? true : undefined}
        aria-describedby={errors.amount ? `${ids}-amount-error` : undefined}
        disabled={busy}
      />
      {errors.amount && (
        <p id={`${ids}-amount-error`} className="field-error">
          {errors.amount}
        </p>
      )}
      <CardFields card={card} errors={errors} onChange={setCard} disabled={busy} />
      <button type="submit" disabled={busy}>
        {busy ? "Sending…" : amount.minor ? `Withdraw ${formatMoney(amount.minor, currency)}` : "Withdraw"}
      </button>
      <div aria-live="polite">
        {failure !== null && (
          <p className="error" role="alert">
            {failure.text}
            {failure.code === "kyc_required" && (
              <>
                {" "}
                <Link to="/account">See your verification status</Link>.
              </>
            )}
          </p>
        )}
        {payment !== null && <Outcome payment={payment} />}
      </div>
    </form>
  );
}
