import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OddsConnection } from "./live";
import type { WireMarket } from "./store";

class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 3;
  static all: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.();
  }
  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  receive(...frames: unknown[]) {
    this.onmessage?.({ data: JSON.stringify(frames.length === 1 ? frames[0] : frames) });
  }
}

const market: WireMarket = {
  id: "m1",
  type: "1x2",
  specifiers: {},
  status: "active",
  in_play_delay_s: 0,
  each_way: null,
  selections: [{ id: "s1", outcome: "home", name: "Arsenal", odds: "2.10", status: "active" }],
};
const odds = (seq: number, price: string, extra: object = {}) => ({
  type: "odds",
  event_id: "e1",
  market_id: "m1",
  seq,
  status: "active",
  selections: [{ id: "s1", odds: price, status: "active" }],
  ...extra,
});

describe("OddsConnection", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  function connected() {
    const conn = new OddsConnection("ws://x/ws/odds");
    conn.start();
    const a = conn.acquire("e1");
    const b = conn.acquire("e1");
    vi.advanceTimersByTime(60);
    const ws = FakeSocket.all[0];
    if (ws === undefined) throw new Error("no socket");
    ws.open();
    return { conn, ws, a, b };
  }

  it("opens one socket, subscribes once per event, unsubscribes when the last watcher leaves", () => {
    const { conn, ws, a, b } = connected();
    expect(FakeSocket.all).toHaveLength(1);
    expect(ws.protocols).toEqual(["sportsbook.odds.batch"]);
    expect(ws.sent).toEqual([{ op: "subscribe", events: ["e1"] }]);
    a();
    vi.advanceTimersByTime(60);
    expect(ws.sent).toHaveLength(1);
    b();
    vi.advanceTimersByTime(60);
    expect(ws.sent).toEqual([
      { op: "subscribe", events: ["e1"] },
      { op: "unsubscribe", events: ["e1"] },
    ]);
    conn.stop();
  });

  it("applies snapshot and odds frames (batched arrays too)", () => {
    const { conn, ws } = connected();
    ws.receive({ type: "snapshot", event_id: "e1", seq: 10, markets: [market] });
    ws.receive(odds(11, "2.20"), odds(12, "2.30"));
    expect(conn.store.selection("s1")?.odds).toBe("2.30");
    conn.stop();
  });

  it("resubscribes after a gap nothing accounts for, and on a frame of an unknown market", () => {
    const { conn, ws } = connected();
    ws.receive({ type: "snapshot", event_id: "e1", seq: 10, markets: [market] });
    ws.receive(odds(13, "2.20", { conflated: 2 })); // accounted for
    expect(ws.sent).toHaveLength(1);
    ws.receive(odds(15, "2.30")); // 14 skipped
    vi.advanceTimersByTime(5000);
    expect(ws.sent.at(-1)).toEqual({ op: "subscribe", events: ["e1"] });
    ws.receive({ type: "snapshot", event_id: "e1", seq: 20, markets: [market] });
    ws.receive({ ...odds(21, "2.40"), market_id: "m-new" });
    expect(ws.sent).toHaveLength(3);
    expect(ws.sent.at(-1)).toEqual({ op: "subscribe", events: ["e1"] });
    conn.stop();
  });

  it("reconnects with backoff and subscribes again", () => {
    const { conn, ws } = connected();
    ws.close();
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.all).toHaveLength(2);
    const again = FakeSocket.all[1];
    again?.open();
    expect(again?.sent).toEqual([{ op: "subscribe", events: ["e1"] }]);
    conn.stop();
  });
});

describe("OddsConnection watchdog", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("drops a connection silent for longer than the heartbeat allows, and connects again", () => {
    const conn = new OddsConnection("ws://x/ws/odds");
    conn.start();
    conn.acquire("e1");
    vi.advanceTimersByTime(60);
    FakeSocket.all[0]?.open();
    vi.advanceTimersByTime(20_000);
    FakeSocket.all[0]?.receive({ type: "heartbeat" });
    vi.advanceTimersByTime(20_000);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(8_000);
    expect(FakeSocket.all[0]?.readyState).toBe(FakeSocket.CLOSED);
    vi.advanceTimersByTime(1_000);
    expect(FakeSocket.all).toHaveLength(2);
    conn.stop();
  });
});
