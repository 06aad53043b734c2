/**
 * Exponential backoff with full jitter: the delay before retry n is uniform in [0, min(max, base·2ⁿ)).
 * Full jitter (rather than a fixed or "equal" jitter) spreads a county's boxes out after a broker or
 * uplink outage, so they do not all reconnect and re-upload in the same second.
 */
export interface BackoffPolicy {
  /** Ceiling of the first delay, in milliseconds. */
  baseMs: number;
  /** Largest ceiling any delay may reach, in milliseconds. */
  maxMs: number;
}

/** Delay before retry number `attempt` (0 for the first retry). `random` is injectable for tests. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  // Cap the exponent first: 2 ** 1100 is Infinity and 2 ** 60 already dwarfs any sane maxMs.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 40));
  return Math.floor(random() * ceiling);
}

/** A retry counter: each `next()` grows the ceiling, `reset()` starts again after a success. */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #attempt = 0;

  constructor(policy: BackoffPolicy, random: () => number = Math.random) {
    validateBackoffPolicy(policy, "backoff");
    this.#policy = policy;
    this.#random = random;
  }

  get attempts(): number {
    return this.#attempt;
  }

  next(): number {
    const delay = backoffDelay(this.#attempt, this.#policy, this.#random);
    this.#attempt += 1;
    return delay;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

export function validateBackoffPolicy(policy: BackoffPolicy, name: string): void {
  const { baseMs, maxMs } = policy;
  // setTimeout silently turns anything above 2³¹−1 ms into 1 ms.
  if (!Number.isFinite(baseMs) || baseMs <= 0 || maxMs < baseMs || maxMs > 2 ** 31 - 1) {
    throw new RangeError(`${name}: need 0 < baseMs <= maxMs <= 2^31-1, got baseMs=${baseMs} maxMs=${maxMs}`);
  }
}
