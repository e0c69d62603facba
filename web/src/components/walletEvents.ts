// Money moves tell the rest of the page: the header's balance and the wallet refresh on "wallet:changed".
import { useEffect, useRef, useState } from "react";

export const WALLET_CHANGED = "wallet:changed";

/** Tell every listener that the player's money moved (a deposit, a withdrawal, a bet, a cash-out). */
export function announceWalletChanged(): void {
  window.dispatchEvent(new Event(WALLET_CHANGED));
}

/** Call `onChange` whenever the player's money moves. */
export function useWalletChanged(onChange: () => void): void {
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => {
    const handler = () => latest.current();
    window.addEventListener(WALLET_CHANGED, handler);
    return () => window.removeEventListener(WALLET_CHANGED, handler);
  }, []);
}

/** Call `tick` every `ms` while the page is visible (and once again when it becomes visible); null pauses. */
export function useVisibleInterval(tick: () => void, ms: number | null): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (ms === null) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") latest.current();
    }, ms);
    const onVisible = () => {
      if (document.visibilityState === "visible") latest.current();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.clearInterval(id);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [ms]);
}

/** Whether the element is on screen (true where IntersectionObserver is missing). */
export function useInView<T extends Element>(): [(el: T | null) => void, boolean] {
  const [el, setEl] = useState<T | null>(null);
  const [inView, setInView] = useState(typeof IntersectionObserver === "undefined");
  useEffect(() => {
    if (el === null || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      const last = entries[entries.length - 1];
      if (last !== undefined) setInView(last.isIntersecting);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [el]);
  return [setEl, inView];
}
