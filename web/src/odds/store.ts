// Live prices, outside React: markets and selections keyed by id, fed by `/ws/odds` frames (and seeded from
// the REST answers a page already has), with per-key listeners. A change marks its keys dirty; listeners run once
// per animation frame, so 100 updates a second cost at most one render pass per frame, and only the components
// showing a changed price re-render (useSyncExternalStore on that price's key). Pure TypeScript: tested without
// a browser.

export type EachWay = { fraction: string; places: number };

export type WireSelection = {
  id: string;
  outcome?: string;
  name?: string;
  odds: string;
  status: string;
};

export type WireMarket = {
  id: string;
  type: string;
  specifiers: Record<string, string>;
  status: string;
  in_play_delay_s: number;
  each_way: EachWay | null;
  selections: WireSelection[];
};

export type SnapshotFrame = { type: "snapshot"; event_id: string; markets: WireMarket[]; seq: number };
export type OddsFrame = {
  type: "odds";
  event_id: string;
  market_id: string;
  seq: number;
  status: string;
  selections: { id: string; odds: string; status: string }[];
  conflated?: number;
};
export type ErrorFrame = { type: "error"; code: string; message: string; event_id?: string };
export type Frame = SnapshotFrame | OddsFrame | ErrorFrame | { type: "heartbeat" };

export type Direction = "up" | "down" | null;

/** A selection as shown: its current price and status, and which way its last move went (and when). */
export type SelectionState = {
  readonly id: string;
  readonly marketId: string;
  readonly outcome: string;
  readonly name: string;
  readonly odds: string;
  readonly status: string;
  readonly direction: Direction;
  readonly movedAt: number;
};

export type MarketState = {
  readonly id: string;
  readonly eventId: string;
  readonly type: string;
  readonly specifiers: Record<string, string>;
  readonly status: string;
  readonly inPlayDelayS: number;
  readonly eachWay: EachWay | null;
  readonly selectionIds: readonly string[];
};

type Listener = () => void;

function compareOdds(a: string, b: string): number {
  return Number(a) - Number(b);
}

const schedule: (fn: () => void) => void =
  typeof requestAnimationFrame === "function"
    ? (fn) => {
        requestAnimationFrame(fn);
      }
    : (fn) => {
        setTimeout(fn, 16);
      };

export class OddsStore {
  private readonly markets = new Map<string, MarketState>();
  private readonly selections = new Map<string, SelectionState>();
  private readonly eventMarkets = new Map<string, readonly string[]>();
  /** events whose markets came from a snapshot (a REST seed never overwrites those) */
  private readonly live = new Set<string>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private dirty = new Set<string>();
  private scheduled = false;

  constructor(private readonly now: () => number = () => Date.now()) {}

  selection(id: string): SelectionState | undefined {
    return this.selections.get(id);
  }
  market(id: string): MarketState | undefined {
    return this.markets.get(id);
  }
  marketsOf(eventId: string): readonly string[] | undefined {
    return this.eventMarkets.get(eventId);
  }
  hasMarket(id: string): boolean {
    return this.markets.has(id);
  }

  subscribe(key: string, listener: Listener): () => void {
    let set = this.listeners.get(key);
    if (set === undefined) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  /** An event's markets as a REST answer has them: taken only while no snapshot has come for the event. */
  seed(eventId: string, markets: readonly WireMarket[]): void {
    if (this.live.has(eventId)) return;
    this.putMarkets(eventId, markets, false);
  }

  /** A snapshot: every market of the event, replacing what was known. */
  applySnapshot(frame: SnapshotFrame): void {
    this.live.add(frame.event_id);
    this.putMarkets(frame.event_id, frame.markets, true);
  }

  /** An odds frame: the market's whole tradable state. False when the market is unknown (the caller asks again). */
  applyOdds(frame: OddsFrame): boolean {
    const market = this.markets.get(frame.market_id);
    if (market === undefined) return false;
    if (market.status !== frame.status) {
      this.markets.set(market.id, { ...market, status: frame.status });
      this.mark(`m:${market.id}`);
    }
    for (const s of frame.selections) {
      const known = this.selections.get(s.id);
      if (known === undefined) return false;
      this.putSelection(known, s.odds, s.status, true);
    }
    return true;
  }

  /** Forget that an event's markets are live (its snapshot will be asked for again). */
  markStale(eventId: string): void {
    this.live.delete(eventId);
  }

  private putMarkets(eventId: string, markets: readonly WireMarket[], moves: boolean): void {
    const ids: string[] = [];
    for (const m of markets) {
      ids.push(m.id);
      const old = this.markets.get(m.id);
      const selectionIds = m.selections.map((s) => s.id);
      const next: MarketState = {
        id: m.id,
        eventId,
        type: m.type,
        specifiers: m.specifiers,
        status: m.status,
        inPlayDelayS: m.in_play_delay_s,
        eachWay: m.each_way,
        selectionIds,
      };
      if (
        old === undefined ||
        old.status !== next.status ||
        old.inPlayDelayS !== next.inPlayDelayS ||
        old.eachWay?.fraction !== next.eachWay?.fraction ||
        old.eachWay?.places !== next.eachWay?.places ||
        old.selectionIds.join() !== selectionIds.join()
      ) {
        this.markets.set(m.id, next);
        this.mark(`m:${m.id}`);
      }
      for (const s of m.selections) {
        const known = this.selections.get(s.id);
        if (known === undefined) {
          this.selections.set(s.id, {
            id: s.id,
            marketId: m.id,
            outcome: s.outcome ?? "",
            name: s.name ?? s.outcome ?? "",
            odds: s.odds,
            status: s.status,
            direction: null,
            movedAt: 0,
          });
          this.mark(`s:${s.id}`);
        } else {
          this.putSelection(known, s.odds, s.status, moves, s.name);
        }
      }
    }
    const before = this.eventMarkets.get(eventId);
    if (before === undefined || before.join() !== ids.join()) {
      this.eventMarkets.set(eventId, ids);
      this.mark(`e:${eventId}`);
    }
  }

  private putSelection(known: SelectionState, odds: string, status: string, moves: boolean, name?: string): void {
    const cmp = compareOdds(odds, known.odds);
    if (cmp === 0 && status === known.status && (name === undefined || name === known.name)) return;
    const moved = moves && cmp !== 0;
    this.selections.set(known.id, {
      ...known,
      name: name ?? known.name,
      odds,
      status,
      direction: moved ? (cmp > 0 ? "up" : "down") : known.direction,
      movedAt: moved ? this.now() : known.movedAt,
    });
    this.mark(`s:${known.id}`);
  }

  private mark(key: string): void {
    this.dirty.add(key);
    if (!this.scheduled) {
      this.scheduled = true;
      schedule(() => this.flush());
    }
  }

  /** Run the listeners of every key changed since the last flush (once per animation frame). */
  flush(): void {
    this.scheduled = false;
    const keys = this.dirty;
    this.dirty = new Set();
    for (const key of keys) {
      const set = this.listeners.get(key);
      if (set !== undefined) for (const l of [...set]) l();
    }
  }
}

/** Per-event seq accounting (docs/odds.md "seq and gaps"): numbers skipped must be paid back by later frames'
 * `conflated` counts. `owed` > 0 for too long, more paid back than skipped, or a frame of an unknown market
 * means the client lost something: it subscribes to the event again for a fresh snapshot. */
export class SeqTracker {
  private readonly events = new Map<string, { seq: number; owed: number; since: number }>();

  constructor(
    private readonly graceMs = 3000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  snapshot(eventId: string, seq: number): void {
    this.events.set(eventId, { seq, owed: 0, since: 0 });
  }

  forget(eventId: string): void {
    this.events.delete(eventId);
  }

  /** "apply" the frame, "skip" it (stale, or no snapshot yet), or "resync" the event. */
  odds(eventId: string, seq: number, conflated: number): "apply" | "skip" | "resync" {
    const st = this.events.get(eventId);
    if (st === undefined || seq <= st.seq) return "skip";
    const wasOwed = st.owed;
    st.owed += seq - st.seq - 1 - conflated;
    st.seq = seq;
    if (st.owed < 0) return "resync";
    if (st.owed > 0 && wasOwed === 0) st.since = this.now();
    return "apply";
  }

  /** Events whose skipped numbers have gone unaccounted for longer than the grace period. */
  overdue(): string[] {
    const limit = this.now() - this.graceMs;
    const out: string[] = [];
    for (const [id, st] of this.events) if (st.owed > 0 && st.since <= limit) out.push(id);
    return out;
  }
}
