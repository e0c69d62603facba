// Monitoring: this node's figures every 2 s. The API sends cumulative counters; rates come from the change
// between two samples (src/admin/rates.ts).
import { useEffect, useRef, useState } from "react";
import { api, ok, type Schemas } from "../api/client";
import { ErrorNote } from "./common";
import { minorUnits } from "./labels";
import { millis, p99Between, percent, perSecond } from "./rates";

type Sample = Schemas["MonitoringOut"];
const EVERY_MS = 2000;

type Derived = {
  betsPerSecond: number | null;
  refusalsPerSecond: number | null;
  p99: number | null;
  paymentRate: number | null;
  feedPerSecond: number | null;
};

function derive(before: Sample | null, after: Sample): Derived {
  if (before === null) {
    return {
      betsPerSecond: null,
      refusalsPerSecond: null,
      p99: after.bets.latency_p99_s,
      paymentRate: after.payments.success_rate,
      feedPerSecond: null,
    };
  }
  const seconds = (Date.parse(after.at) - Date.parse(before.at)) / 1000;
  const attempts = after.payments.attempts - before.payments.attempts;
  const approved = after.payments.approved - before.payments.approved;
  return {
    betsPerSecond: perSecond(before.bets.placed, after.bets.placed, seconds),
    refusalsPerSecond: perSecond(before.bets.refused, after.bets.refused, seconds),
    p99: p99Between(before.bets.latency_buckets, after.bets.latency_buckets),
    paymentRate: attempts > 0 ? approved / attempts : null,
    feedPerSecond: perSecond(before.feed.messages, after.feed.messages, seconds),
  };
}

export function Monitoring() {
  const [sample, setSample] = useState<Sample | null>(null);
  const [derived, setDerived] = useState<Derived | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [paused, setPaused] = useState(false);
  const previous = useRef<Sample | null>(null);

  useEffect(() => {
    if (paused) return;
    let stopped = false;
    async function tick() {
      try {
        const next = await ok(api.GET("/api/v1/admin/monitoring"));
        if (stopped) return;
        setDerived(derive(previous.current, next));
        previous.current = next;
        setSample(next);
        setError(null);
      } catch (e) {
        if (!stopped) setError(e);
      }
    }
    void tick();
    const timer = window.setInterval(() => void tick(), EVERY_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [paused]);

  const fmtRate = (n: number | null | undefined) => (n === null || n === undefined ? "—" : `${n.toFixed(1)}/s`);
  return (
    <section aria-labelledby="mon-title">
      <h1 id="mon-title">Monitoring</h1>
      <p className="adm-muted">
        This node's own metrics, refreshed every 2 seconds
        {sample ? `; last sample ${new Date(sample.at).toLocaleTimeString()}` : ""}.{" "}
        <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? "Resume updates" : "Pause updates"}
        </button>
      </p>
      <ErrorNote error={error} />
      {sample && derived && (
        <dl className="adm-tiles">
          <Tile label="Bets per second" value={fmtRate(derived.betsPerSecond)} note={`${sample.bets.placed} since start`} />
          <Tile label="Refusals per second" value={fmtRate(derived.refusalsPerSecond)} note={`${sample.bets.refused} since start`} />
          <Tile
            label="Bet latency p99"
            value={millis(derived.p99)}
            note={`since start ${millis(sample.bets.latency_p99_s)}`}
          />
          <Tile
            label="Payment success rate"
            value={percent(derived.paymentRate)}
            note={`since start ${percent(sample.payments.success_rate)} of ${sample.payments.attempts}`}
          />
          <Tile label="Total liability" value={minorUnits(sample.liability.total)} note="minor units, worst case per market" />
          <Tile
            label="Feed producers up"
            value={sample.feed.producers === 0 ? "—" : `${sample.feed.producers_up} of ${sample.feed.producers}`}
            note={sample.feed.producers === 0 ? "no feed producer reports on this node" : sample.feed.producers_up < sample.feed.producers ? "a producer is down" : "all up"}
            warn={sample.feed.producers_up < sample.feed.producers}
          />
          <Tile
            label="Feed messages per second"
            value={fmtRate(derived.feedPerSecond)}
            note={`lag p99 ${millis(sample.feed.lag_p99_s)}`}
          />
          <Tile label="Live odds connections" value={String(sample.odds_connections)} note="open /ws/odds sockets" />
        </dl>
      )}
    </section>
  );
}

function Tile({ label, value, note, warn = false }: { label: string; value: string; note: string; warn?: boolean }) {
  return (
    <div className={warn ? "adm-tile adm-tile-warn" : "adm-tile"}>
      <dt>{label}</dt>
      <dd className="adm-tile-value">{value}</dd>
      <dd className="adm-tile-note">{note}</dd>
    </div>
  );
}
