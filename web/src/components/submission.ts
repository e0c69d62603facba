// One Idempotency-Key per submission of a money form: a retry of the same submission whose answer never came
// (connection dropped, server error) reuses its key, so the platform does it at most once; anything else is new.

export type Sent = { key: string; body: string; answered: boolean };

/** The key for sending `body`: the last one's when it is the same body and its answer never came. */
export function keyFor(last: Sent | null, body: string, fresh: () => string): string {
  return last !== null && !last.answered && last.body === body ? last.key : fresh();
}

/** Whether an answer with this HTTP status settles the submission (0 is no answer at all). */
export function answered(status: number): boolean {
  return status >= 200 && status < 500;
}

/** A payment's status is final: nothing will change it without a new action. */
export function isFinal(status: string): boolean {
  return status === "succeeded" || status === "failed";
}
