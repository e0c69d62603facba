// Live odds: ONE WebSocket to /ws/odds for the whole app. Components say which events they show
// (useLiveEvent, ref-counted); the connection subscribes to those, reconnects with backoff, resubscribes after a
// gap in an event's seq or a frame of an unknown market, and feeds the OddsStore. Prices are read per key
// (useSelection, useMarket, useEventMarkets), so one price change re-renders only what shows it.
import { createContext, useCallback, useContext, useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";
import {
  OddsStore,
  SeqTracker,
  type Frame,
  type MarketState,
  type SelectionState,
  type WireMarket,
} from "./store";

export type { MarketState, SelectionState, WireMarket } from "./store";

const BATCH_PROTOCOL = "sportsbook.odds.batch";
const MAX_PER_MESSAGE = 200;
/** The server sends a heartbeat at least every 10 s: a connection silent for longer than this is dead. */
const SILENCE_MS = 25_000;

export class OddsConnection {
  readonly store = new OddsStore();
  private readonly seqs = new SeqTracker();
  private readonly refs = new Map<string, number>();
  /** events the server is asked to send (subscribe sent on the current socket) */
  private readonly sent = new Set<string>();
  private readonly unknown = new Set<string>();
  private ws: WebSocket | null = null;
  private backoff = 500;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private checkTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  private lastMessage = 0;

  constructor(private readonly url: string) {}

  /** Watch an event while the returned function is not called. */
  acquire(eventId: string): () => void {
    this.refs.set(eventId, (this.refs.get(eventId) ?? 0) + 1);
    this.schedule();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.refs.get(eventId) ?? 1) - 1;
      if (n <= 0) this.refs.delete(eventId);
      else this.refs.set(eventId, n);
      this.schedule();
    };
  }

  start(): void {
    this.stopped = false;
    if (this.checkTimer === null) this.checkTimer = setInterval(() => this.checkGaps(), 1000);
    if (this.refs.size > 0) this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    if (this.checkTimer !== null) clearInterval(this.checkTimer);
    this.checkTimer = null;
    this.retry = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  /** Subscriptions change in bursts (a page mounting 50 rows): one message per tick, and an unsubscribe only if
   * the event is still unwatched a moment later (navigating between pages keeps it). */
  private schedule(): void {
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.sync();
    }, 50);
  }

  private sync(): void {
    if (this.stopped) return;
    if (this.ws === null) {
      if (this.refs.size > 0 && this.retry === null) this.connect();
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const add = [...this.refs.keys()].filter((id) => !this.sent.has(id) && !this.unknown.has(id));
    const drop = [...this.sent].filter((id) => !this.refs.has(id));
    for (const id of add) this.sent.add(id);
    for (const id of drop) {
      this.sent.delete(id);
      this.seqs.forget(id);
      this.store.markStale(id);
    }
    this.send("subscribe", add);
    this.send("unsubscribe", drop);
  }

  private send(op: "subscribe" | "unsubscribe", events: string[]): void {
    for (let i = 0; i < events.length; i += MAX_PER_MESSAGE) {
      this.ws?.send(JSON.stringify({ op, events: events.slice(i, i + MAX_PER_MESSAGE) }));
    }
  }

  private connect(): void {
    if (this.stopped || this.ws !== null) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, [BATCH_PROTOCOL]);
    } catch {
      this.reconnectLater();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastMessage = Date.now();
      this.sent.clear();
      this.sync();
    };
    ws.onmessage = (msg: MessageEvent) => {
      this.lastMessage = Date.now();
      if (typeof msg.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (Array.isArray(parsed)) for (const f of parsed) this.onFrame(f as Frame);
      else this.onFrame(parsed as Frame);
    };
    ws.onclose = () => this.lost(ws);
  }

  /** The socket is gone (closed by the server, the network, or found silent): forget what it watched and
   * connect again after the backoff; the new connection starts from fresh snapshots. */
  private lost(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.sent.clear();
    for (const id of this.refs.keys()) {
      this.seqs.forget(id);
      this.store.markStale(id);
    }
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.stopped || this.retry !== null) return;
    const delay = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, 15_000);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.refs.size > 0) this.connect();
    }, delay);
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "snapshot":
        if (!this.sent.has(frame.event_id)) return; // unsubscribed since
        this.backoff = 500; // a working connection: the next failure starts the backoff afresh
        this.seqs.snapshot(frame.event_id, frame.seq);
        this.store.applySnapshot(frame);
        return;
      case "odds": {
        if (!this.sent.has(frame.event_id)) return;
        const verdict = this.seqs.odds(frame.event_id, frame.seq, frame.conflated ?? 0);
        if (verdict === "skip") return;
        if (verdict === "resync" || !this.store.applyOdds(frame)) this.resync(frame.event_id);
        return;
      }
      case "error":
        if (frame.code === "event_not_found" && frame.event_id !== undefined) {
          this.unknown.add(frame.event_id);
          this.sent.delete(frame.event_id);
        }
        return;
      default:
        return;
    }
  }

  /** Ask for a fresh snapshot of an event (subscribing again answers one). */
  private resync(eventId: string): void {
    this.seqs.forget(eventId);
    this.store.markStale(eventId);
    this.send("subscribe", [eventId]);
  }

  private checkGaps(): void {
    const ws = this.ws;
    if (ws !== null && ws.readyState === WebSocket.OPEN && Date.now() - this.lastMessage > SILENCE_MS) {
      this.lost(ws);
      ws.onclose = null;
      ws.close();
      return;
    }
    for (const id of this.seqs.overdue()) if (this.sent.has(id)) this.resync(id);
  }
}

function socketUrl(): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws/odds`;
}

const LiveContext = createContext<OddsConnection | null>(null);

export function LiveOddsProvider({ children }: { children: ReactNode }) {
  const conn = useMemo(() => new OddsConnection(socketUrl()), []);
  useEffect(() => {
    conn.start();
    return () => conn.stop();
  }, [conn]);
  return <LiveContext.Provider value={conn}>{children}</LiveContext.Provider>;
}

function useConn(): OddsConnection {
  const conn = useContext(LiveContext);
  if (conn === null) throw new Error("live odds outside LiveOddsProvider");
  return conn;
}

/** Watch an event's prices while the calling component is mounted; seed the store with the markets a REST
 * answer already has, so the prices show before the snapshot comes. */
export function useLiveEvent(eventId: string | null | undefined, markets?: readonly WireMarket[]): void {
  const conn = useConn();
  useEffect(() => {
    if (eventId && markets) conn.store.seed(eventId, markets);
  }, [conn, eventId, markets]);
  useEffect(() => {
    if (!eventId) return;
    return conn.acquire(eventId);
  }, [conn, eventId]);
}

function useKey<T>(key: string, read: (store: OddsStore) => T): T {
  const { store } = useConn();
  return useSyncExternalStore(
    (cb) => store.subscribe(key, cb),
    () => read(store),
  );
}

/** A selection's current price, status and last move. */
export function useSelection(id: string): SelectionState | undefined {
  return useKey(`s:${id}`, (s) => s.selection(id));
}

/** A market's status, each-way terms and selection ids. */
export function useMarket(id: string): MarketState | undefined {
  return useKey(`m:${id}`, (s) => s.market(id));
}

/** The ids of an event's markets, in the platform's order. */
export function useEventMarkets(eventId: string): readonly string[] | undefined {
  return useKey(`e:${eventId}`, (s) => s.marketsOf(eventId));
}

/** Several selections' current prices and statuses at once (a bet slip's legs): re-renders when any changes. */
export function useSelections(ids: readonly string[]): ReadonlyMap<string, { odds: string; status: string }> {
  const { store } = useConn();
  const joined = ids.join(",");
  const subscribe = useCallback(
    (cb: () => void) => {
      const offs = joined === "" ? [] : joined.split(",").map((id) => store.subscribe(`s:${id}`, cb));
      return () => offs.forEach((off) => off());
    },
    [store, joined],
  );
  const text = useSyncExternalStore(
    subscribe,
    // a string snapshot: equal by value, so an unrelated render never loops
    () =>
      ids
        .map((id) => {
          const s = store.selection(id);
          return s === undefined ? "" : `${s.odds} ${s.status}`;
        })
        .join("|"),
  );
  return useMemo(() => {
    const out = new Map<string, { odds: string; status: string }>();
    const parts = text.split("|");
    joined.split(",").forEach((id, i) => {
      const [odds, status] = (parts[i] ?? "").split(" ");
      if (odds && status) out.set(id, { odds, status });
    });
    return out;
  }, [text, joined]);
}
