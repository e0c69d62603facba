import { describe, expect, it, vi } from "vitest";
import { OddsStore, SeqTracker, type WireMarket } from "./store";

const market = (status = "active", home = "2.10"): WireMarket => ({
  id: "m1",
  type: "1x2",
  specifiers: {},
  status,
  in_play_delay_s: 5,
  each_way: null,
  selections: [
    { id: "s1", outcome: "home", name: "Arsenal", odds: home, status: "active" },
    { id: "s2", outcome: "away", name: "Spurs", odds: "3.00", status: "active" },
  ],
});

describe("OddsStore", () => {
  it("applies snapshots and odds frames, with the direction of each move", () => {
    let t = 1000;
    const store = new OddsStore(() => t);
    store.applySnapshot({ type: "snapshot", event_id: "e1", seq: 3, markets: [market()] });
    expect(store.selection("s1")?.odds).toBe("2.10");
    expect(store.marketsOf("e1")).toEqual(["m1"]);
    t = 2000;
    const ok = store.applyOdds({
      type: "odds",
      event_id: "e1",
      market_id: "m1",
      seq: 4,
      status: "suspended",
      selections: [
        { id: "s1", odds: "2.20", status: "active" },
        { id: "s2", odds: "2.90", status: "active" },
      ],
    });
    expect(ok).toBe(true);
    expect(store.selection("s1")).toMatchObject({ odds: "2.20", direction: "up", movedAt: 2000 });
    expect(store.selection("s2")).toMatchObject({ odds: "2.90", direction: "down" });
    expect(store.market("m1")?.status).toBe("suspended");
  });

  it("refuses a frame of an unknown market", () => {
    const store = new OddsStore();
    expect(
      store.applyOdds({ type: "odds", event_id: "e1", market_id: "mx", seq: 1, status: "active", selections: [] }),
    ).toBe(false);
  });

  it("notifies only the keys that changed, once per flush", () => {
    vi.useFakeTimers();
    const store = new OddsStore();
    store.applySnapshot({ type: "snapshot", event_id: "e1", seq: 3, markets: [market()] });
    vi.runAllTimers();
    const s1 = vi.fn();
    const s2 = vi.fn();
    store.subscribe("s:s1", s1);
    store.subscribe("s:s2", s2);
    for (const odds of ["2.20", "2.30", "2.40"]) {
      store.applyOdds({
        type: "odds",
        event_id: "e1",
        market_id: "m1",
        seq: 4,
        status: "active",
        selections: [
          { id: "s1", odds, status: "active" },
          { id: "s2", odds: "3.00", status: "active" },
        ],
      });
    }
    expect(s1).not.toHaveBeenCalled();
    vi.runAllTimers();
    expect(s1).toHaveBeenCalledTimes(1);
    expect(s2).not.toHaveBeenCalled();
    vi.useRealTimers();
  });

  it("does not let a REST seed overwrite a snapshot", () => {
    const store = new OddsStore();
    store.applySnapshot({ type: "snapshot", event_id: "e1", seq: 3, markets: [market("active", "2.50")] });
    store.seed("e1", [market("active", "2.10")]);
    expect(store.selection("s1")?.odds).toBe("2.50");
  });

  it("applies 100,000 updates over 1,000 markets quickly", () => {
    const store = new OddsStore();
    const markets: WireMarket[] = Array.from({ length: 1000 }, (_, i) => ({
      ...market(),
      id: `m${i}`,
      selections: [{ id: `s${i}`, odds: "2.00", status: "active" }],
    }));
    store.applySnapshot({ type: "snapshot", event_id: "e1", seq: 0, markets });
    const started = performance.now();
    for (let n = 0; n < 100_000; n++) {
      const i = n % 1000;
      store.applyOdds({
        type: "odds",
        event_id: "e1",
        market_id: `m${i}`,
        seq: n + 1,
        status: "active",
        selections: [{ id: `s${i}`, odds: n % 2 ? "2.10" : "1.90", status: "active" }],
      });
    }
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("SeqTracker", () => {
  it("applies frames in sequence and skips stale ones", () => {
    const seqs = new SeqTracker();
    expect(seqs.odds("e1", 5, 0)).toBe("skip"); // no snapshot yet
    seqs.snapshot("e1", 5);
    expect(seqs.odds("e1", 5, 0)).toBe("skip");
    expect(seqs.odds("e1", 6, 0)).toBe("apply");
    expect(seqs.overdue()).toEqual([]);
  });

  it("accepts a gap that a conflated count pays back, later or at once", () => {
    let t = 0;
    const seqs = new SeqTracker(3000, () => t);
    seqs.snapshot("e1", 4);
    expect(seqs.odds("e1", 7, 2)).toBe("apply"); // skipped 5, 6: conflated into this frame
    expect(seqs.odds("e1", 9, 0)).toBe("apply"); // 8 skipped: owed
    t = 1000;
    expect(seqs.odds("e1", 10, 1)).toBe("apply"); // paid back
    t = 10_000;
    expect(seqs.overdue()).toEqual([]);
  });

  it("resyncs on a gap left unaccounted for, or on more paid back than skipped", () => {
    let t = 0;
    const seqs = new SeqTracker(3000, () => t);
    seqs.snapshot("e1", 1);
    expect(seqs.odds("e1", 4, 0)).toBe("apply");
    t = 2000;
    expect(seqs.overdue()).toEqual([]);
    t = 3500;
    expect(seqs.overdue()).toEqual(["e1"]);
    seqs.snapshot("e2", 1);
    expect(seqs.odds("e2", 2, 3)).toBe("resync");
  });
});
