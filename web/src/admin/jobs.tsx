// Settlement jobs as they run: each polled every second until it succeeds or fails, with its report.
import { useEffect, useRef, useState } from "react";
import { api, ok, type Schemas } from "../api/client";
import { ErrorNote } from "./common";
import { jobFinished, minorUnits } from "./labels";

export type Job = Schemas["SettlementJobOut"];

type Report = {
  settled_bets?: number;
  reopened_bets?: number;
  stake?: number;
  return?: number;
  outcomes?: Record<string, { bets: number; stake: number; return: number }>;
};

export function JobCard({ job: first, label, onFinished }: { job: Job; label: string; onFinished?: () => void }) {
  const [job, setJob] = useState<Job>(first);
  const [error, setError] = useState<unknown>(null);
  const finishedOnce = useRef(false);
  useEffect(() => {
    if (jobFinished(job.status)) {
      if (!finishedOnce.current) {
        finishedOnce.current = true;
        onFinished?.();
      }
      return;
    }
    const timer = window.setTimeout(() => {
      ok(api.GET("/api/v1/admin/settlement-jobs/{job_id}", { params: { path: { job_id: job.id } } }))
        .then((next) => {
          setJob(next);
          setError(null);
        })
        .catch(setError);
    }, 1000);
    return () => window.clearTimeout(timer);
  }, [job, onFinished]);
  const report = (job.report ?? null) as Report | null;
  return (
    <li className={`adm-job adm-job-${job.status}`}>
      <p>
        <strong>
          {job.kind === "settle" ? "Settlement" : job.kind === "rollback" ? "Rollback" : "Bet cancellation"} of {label}
        </strong>
        : <span role="status">{job.status}</span>
      </p>
      <label>
        Bets done for {label} ({job.bets_done} of {job.bets_total})
        <progress max={Math.max(job.bets_total, 1)} value={job.bets_total === 0 && jobFinished(job.status) ? 1 : job.bets_done} />
      </label>
      {job.error && (
        <p className="adm-error">
          {job.error.message} ({job.error.code})
        </p>
      )}
      {report && job.status === "succeeded" && (
        <div>
          <p>
            Settled {report.settled_bets ?? 0} bets, reopened {report.reopened_bets ?? 0}; stake{" "}
            {minorUnits(report.stake ?? 0)}, returned {minorUnits(report.return ?? 0)}.
          </p>
          {report.outcomes && Object.keys(report.outcomes).length > 0 && (
            <table className="adm-small">
              <caption>Outcomes of {label}</caption>
              <thead>
                <tr>
                  <th scope="col">Outcome</th>
                  <th scope="col">Bets</th>
                  <th scope="col">Stake</th>
                  <th scope="col">Return</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(report.outcomes).map(([name, o]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>{o.bets}</td>
                    <td>{minorUnits(o.stake)}</td>
                    <td>{minorUnits(o.return)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      <ErrorNote error={error} />
    </li>
  );
}
