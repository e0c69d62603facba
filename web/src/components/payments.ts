// What the wallet's pages share about a card payment.
import { useEffect, useRef, useState, type RefObject } from "react";
import { api, ok, type Schemas } from "../api/client";

type Payment = Schemas["PaymentOut"];

/** The player's answer to a deposit's 3-D Secure challenge; the payment as it stands after it. */
export function answerChallenge(paymentId: string, passed: boolean): Promise<Payment> {
  return ok(
    api.POST("/api/v1/payments/{payment_id}/authenticate", {
      params: { path: { payment_id: paymentId } },
      body: { passed },
    }),
  );
}

/** A ref, and a call that moves focus to its element after the next render (once a dialog has closed and what
 * came of it is on screen). */
export function useFocusLater<T extends HTMLElement>(): [RefObject<T | null>, () => void] {
  const ref = useRef<T>(null);
  const [pending, setPending] = useState(false);
  useEffect(() => {
    if (!pending) return;
    ref.current?.focus();
    setPending(false);
  }, [pending]);
  return [ref, () => setPending(true)];
}
