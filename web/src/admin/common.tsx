// Small pieces every back-office page uses: loading data, running an action, showing a refusal.
import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";
import { newKey } from "../api/client";
import { describeError } from "./messages";

export type Loaded<T> = {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (data: T) => void;
};

/** Load data when `deps` change; `reload` fetches again (quietly, keeping what is shown until it answers). */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    try {
      const got = await run();
      if (ticket === latest.current) {
        setData(got);
        setError(null);
      }
    } catch (e) {
      if (ticket === latest.current) setError(e);
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    setLoading(true);
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

export type Action = {
  busy: boolean;
  error: unknown;
  done: string | null;
  /** Run `act` with this action's Idempotency-Key; the key is kept after a failure (a retry of the same action
   * replays rather than repeats) and renewed after a success. */
  run: (act: (key: string) => Promise<string | void>) => Promise<boolean>;
  reset: () => void;
};

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const key = useRef(newKey());
  const run = useCallback(async (act: (key: string) => Promise<string | void>) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const message = await act(key.current);
      key.current = newKey();
      setDone(message ?? null);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const reset = useCallback(() => {
    setError(null);
    setDone(null);
    key.current = newKey();
  }, []);
  return { busy, error, done, run, reset };
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p className="adm-error" role="alert">
      {describeError(error)}
    </p>
  );
}

export function ActionStatus({ action }: { action: Action }) {
  return (
    <>
      <ErrorNote error={action.error} />
      {action.done && (
        <p className="adm-done" role="status">
          {action.done}
        </p>
      )}
    </>
  );
}

export function Loading({ loaded, what }: { loaded: { loading: boolean; data: unknown; error: unknown }; what: string }) {
  if (loaded.loading && loaded.data === null) return <p className="adm-muted">Loading {what}…</p>;
  return <ErrorNote error={loaded.error} />;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
