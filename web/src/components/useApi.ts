// Load something from the API for a page, again every `refreshMs` (event status and score are not in the odds
// stream), with the refusal code of a failure.
import { useEffect, useState } from "react";
import { ApiError } from "../api/client";

export type Loaded<T> = { data: T | null; error: string | null };

export function useApi<T>(load: () => Promise<T>, deps: readonly unknown[], refreshMs = 0): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ data: null, error: null });
    const run = () =>
      load().then(
        (data) => live && setState({ data, error: null }),
        (e: unknown) => live && setState((s) => ({ data: s.data, error: e instanceof ApiError ? e.code : "network_error" })),
      );
    void run();
    const timer = refreshMs > 0 ? setInterval(() => void run(), refreshMs) : null;
    return () => {
      live = false;
      if (timer !== null) clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}
