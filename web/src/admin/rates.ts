// Live figures from successive monitoring samples: the API sends cumulative counters (as Prometheus does),
// and the page derives rates over the time between two samples.

export type Bucket = { le: number | null; count: number };

/** Events per second between two readings of a counter; null without a usable interval. A counter that went
 * down means the node restarted: the new value is what happened since. */
export function perSecond(before: number, after: number, seconds: number): number | null {
  if (!(seconds > 0)) return null;
  const delta = after >= before ? after - before : after;
  return delta / seconds;
}

/** The q-quantile of a histogram from cumulative buckets (le null = +Inf), as Prometheus's
 * histogram_quantile: linear within the bucket holding the rank; null when nothing was observed. */
export function quantile(q: number, buckets: readonly Bucket[]): number | null {
  const ordered = [...buckets].sort((a, b) => (a.le ?? Infinity) - (b.le ?? Infinity));
  const total = ordered.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of ordered) {
    if (bucket.count >= rank && bucket.count > lowerCount) {
      if (bucket.le === null) return lowerBound;
      return lowerBound + ((bucket.le - lowerBound) * (rank - lowerCount)) / (bucket.count - lowerCount);
    }
    if (bucket.le !== null) {
      lowerBound = bucket.le;
      lowerCount = bucket.count;
    }
  }
  return lowerBound;
}

/** The buckets of what was observed between two samples (after minus before, by bound); after alone when
 * the counts went down (a restart). */
export function bucketsBetween(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  const earlier = new Map(before.map((b) => [b.le, b.count]));
  const diffs = after.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) }));
  return diffs.some((b) => b.count < 0) ? [...after] : diffs;
}

/** p99 of what happened between two samples; null when nothing did. */
export function p99Between(before: readonly Bucket[], after: readonly Bucket[]): number | null {
  return quantile(0.99, bucketsBetween(before, after));
}

/** A share as a percentage with one decimal ("97.5 %"), or "—" when unknown. */
export function percent(share: number | null | undefined): string {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)} %`;
}

/** Seconds as milliseconds for people ("4.2 ms"), or "—". */
export function millis(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? "—" : `${(seconds * 1000).toFixed(1)} ms`;
}
