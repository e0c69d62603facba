// The card issuer's 3-D Secure challenge for a deposit: a modal dialog the player answers. Focus moves into it;
// Escape cancels (as "Cancel" does), and focus goes back where it was when it closes.
import { useEffect, useId, useRef } from "react";
import { formatMoney } from "../money";

type Props = {
  amount: number;
  currency: string;
  last4: string | null;
  busy: boolean;
  onAnswer: (passed: boolean) => void;
};

export function ThreeDSDialog({ amount, currency, last4, busy, onAnswer }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const textId = useId();

  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
    }
    confirmRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
      before?.focus();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      className="three-ds"
      aria-labelledby={titleId}
      aria-describedby={textId}
      aria-busy={busy}
      onCancel={(e) => {
        // Escape: the dialog stays until the answer is in, and Escape means "Cancel"
        e.preventDefault();
        if (!busy) onAnswer(false);
      }}
    >
      <h2 id={titleId}>Your bank asks you to confirm this payment</h2>
      <div id={textId}>
        <p>
          Deposit of <strong>{formatMoney(amount, currency)}</strong>
          {last4 !== null && (
            <>
              {" "}
              with the card ending in <strong>{last4}</strong>
            </>
          )}
          .
        </p>
        <p className="muted">This is your card issuer&apos;s security check (3-D Secure). Nothing is taken unless you confirm.</p>
      </div>
      <div className="actions">
        <button type="button" ref={confirmRef} disabled={busy} onClick={() => onAnswer(true)}>
          {busy ? "Confirming…" : "Confirm payment"}
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => onAnswer(false)}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
